// `frr-advertiser run`: wires the live sidecar (watch → desired state → render → apply → report)
// and owns its lifecycle: wait for FRR, apply, keep in sync, drain on SIGTERM whatever the stage.

import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadConfigFile, type Config } from "../config/load-config.js";
import { createRunner } from "../exec.js";
import { ConfigApplier } from "../frr/config-applier.js";
import { FrrClient, isEmptyDiff } from "../frr/frr-client.js";
import { FrrLiveness } from "../frr/frr-liveness.js";
import { parseBgpSummary, type SessionStatus } from "../frr/bgp-status.js";
import { apiEventPoster, EventRecorder } from "../kube/event-recorder.js";
import { ServiceEventReporter } from "../reconcile/service-event-reporter.js";
import { ClusterWatch, loadKubeConfig } from "../kube/cluster-watch.js";
import { AddressMonitor } from "../netif/address-monitor.js";
import { parseConf } from "../frr/config-delta.js";
import { createLogger, type Logger } from "../log.js";
import { Metrics } from "../metrics.js";
import { combineEvaluations } from "../model/desired-state.js";
import { neighborsForNode } from "../model/neighbors.js";
import { createAddressSync } from "../netif/address-sync.js";
import { ClusterStore } from "../kube/cluster-store.js";
import { Reconciler } from "../reconcile/reconciler.js";
import { AnnouncementCheck, type CheckReport } from "../reconcile/announcement-check.js";
import { drainNode } from "../reconcile/drain.js";
import { toTemplateContext } from "../render/context.js";
import { renderFrrConf, type CompiledTemplates } from "../render/renderer.js";
import { startServer } from "../server.js";
import type { StopSignals } from "../stop-signals.js";
import { TemplateSource } from "../templates/template-source.js";
import type { CliIo } from "./render-command.js";

const USAGE =
  "usage: frr-advertiser run [--config FILE]   (default: $CONFIG_FILE or /etc/frr-advertiser/config.yaml)";

export async function runRunCommand(argv: readonly string[], io: CliIo, stop: StopSignals): Promise<number> {
  let configPath: string;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: { config: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    });
    if (values.help === true) {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    configPath = values.config ?? io.env["CONFIG_FILE"] ?? "/etc/frr-advertiser/config.yaml";
  } catch (err) {
    io.stderr(`frr-advertiser run: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  let config: Config;
  try {
    config = await loadConfigFile(configPath, { NODE_NAME: io.env["NODE_NAME"], DRAIN: io.env["DRAIN"] });
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`frr-advertiser run: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(config.log.level);
  stop.onRepeat((signal) => {
    log.warn({ signal }, "already draining; signal ignored");
  });
  return new Sidecar(config, log, stop).run();
}

class Sidecar {
  private readonly metrics = new Metrics();
  private readonly store = new ClusterStore();
  private readonly runner;
  private readonly frr: FrrClient;
  private readonly applier: ConfigApplier;
  /** The last session poll (timings.sessionPollSeconds, and after every apply). */
  private sessions: readonly SessionStatus[] = [];
  /** Set while FRR's daemons and this image's FRR tools differ: nothing is applied then. */
  private versionProblem: string | undefined = "FRR's version not checked yet";

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly stop: StopSignals,
  ) {
    this.runner = createRunner(config.timings.reloadTimeoutSeconds * 1000);
    this.frr = new FrrClient(this.runner, {
      vtysh: config.frr.vtysh,
      reloadScript: config.frr.reloadScript,
      pathspace: config.frr.pathspace,
      workDir: dirname(config.frr.configFile),
      reloadTimeoutMs: config.timings.reloadTimeoutSeconds * 1000,
      bgpdVtySocket: config.frr.deltaTransport === "vty" ? join(frrStateDir(config), "bgpd.vty") : undefined,
    });
    this.applier = new ConfigApplier(
      this.frr,
      config.frr.configFile,
      log.child({ component: "frr" }),
      (method, seconds, ok) => {
        this.metrics.observeApply(method, seconds, ok);
      },
    );
  }

  async run(): Promise<number> {
    const { config, log } = this;
    log.info(
      {
        node: config.nodeName,
        mode: config.mode,
        modeReason: config.modeReason,
        interface: config.interface,
      },
      "starting",
    );
    const templates = new TemplateSource(
      config.frr.templateDir,
      (t) => {
        this.trialRender(t);
      },
      log.child({ component: "templates" }),
    );
    // A template set that cannot render the empty state at start is a broken invariant: exit.
    await templates.load();
    const addresses = createAddressSync(this.runner, config, log.child({ component: "netif" }));
    const kc = loadKubeConfig();
    const recorder = new EventRecorder(apiEventPoster(kc), {
      nodeName: config.nodeName,
      onDropped: (why) => {
        this.metrics.events.inc({ result: why });
      },
    });
    const events = new ServiceEventReporter(
      recorder,
      config.nodeName,
      () => {
        this.metrics.events.inc({ result: "posted" });
      },
      (service) => this.store.service(service)?.uid,
    );
    const reconciler = new Reconciler({
      store: this.store,
      config,
      templates: () => templates.current,
      applier: this.applier,
      addresses,
      isSynced: () => watch.synced,
      frrUp: () => liveness.isUp && this.versionProblem === undefined,
      runningNetworks: () => this.runningNetworks(),
      report: (r) => {
        this.metrics.observe(r);
        events.observe(r);
        if (r.outcome === "failed")
          log.error({ stage: r.stage, err: r.error }, "reconcile failed; last good config stays in force");
        else if (r.outcome === "applied") {
          // A fast pass names its changes; the settle pass after it reports the whole state.
          log.info(
            { frr: r.frr, prefixes: r.state?.prefixes.length, changes: r.prefixChanges, ms: r.durationMs },
            "applied",
          );
          // Not at once: bgpd needs a moment to send, and under churn this bounds the reads.
          announcements.checkSoon(config.timings.announcementStuckMs);
          if (this.waitsForSession()) this.pollSessions();
        }
      },
    });
    const announcements = this.announcementCheck(reconciler, recorder);
    templates.onChange(() => {
      reconciler.templatesChanged();
    });
    const watch = new ClusterWatch(kc, this.store, {
      nodeName: config.nodeName,
      onChange: () => {
        reconciler.schedule();
      },
      onRestart: (resource) => {
        this.metrics.informerRestarts.inc({ resource });
      },
      log: log.child({ component: "kube" }),
    });
    const liveness = new FrrLiveness({
      stateDir: frrStateDir(config),
      daemons: ["zebra", "bgpd"],
      intervalMs: config.timings.frrPollIntervalMs,
      isUp: () => this.frr.isUp(),
      onUp: () => {
        this.frr.disconnect(); // a connection from before the restart is dead
        this.applier.invalidate();
        // Nothing is applied to the new daemons before their version is known.
        this.versionProblem = "FRR's version not checked yet";
        // Checked every time FRR comes up: its container may have been replaced by another release.
        const verify = (): void => {
          void this.checkFrrVersion().then(({ problem, retry }) => {
            this.versionProblem = problem;
            if (problem === undefined) {
              log.info({}, "FRR answers; applying the full config");
              reconciler.requestFullApply();
            } else if (retry && liveness.isUp && this.stop.received === undefined) {
              log.warn({}, problem);
              setTimeout(verify, 1000).unref();
            } else log.error({}, problem);
          });
        };
        verify();
      },
      onDown: () => {
        log.warn({}, "FRR restarted or stopped");
      },
    });
    const server = await startServer(
      config.server.address,
      config.server.port,
      {
        notReadyReasons: () => [
          ...(watch.synced ? [] : ["cluster watch not synced"]),
          ...(liveness.isUp ? [] : ["FRR not answering"]),
          ...(liveness.isUp && this.versionProblem !== undefined ? [this.versionProblem] : []),
          ...(reconciler.healthy ? [] : ["last apply did not succeed"]),
          ...notAdvertisedReason(announcements.unrepaired),
          ...this.sessionReadiness(),
        ],
      },
      this.metrics.registry,
    );
    const bound = server.address();
    log.info(
      {
        address: config.server.address,
        port: typeof bound === "object" && bound !== null ? bound.port : config.server.port,
      },
      "serving /healthz /readyz /metrics",
    );
    liveness.start();
    templates.watch();
    // Not awaited: a list that never answers must not hold up anything, the drain included.
    // Each watched resource schedules a reconcile once it has listed; nothing is applied before all have.
    void watch.start();
    const monitor = this.startAddressMonitor(addresses, reconciler);
    // A backstop only: while the monitor runs, the kernel tells us about drift.
    const resync = setInterval(() => {
      if (!monitor.running) reconciler.requestAddressRepair();
    }, config.timings.resyncIntervalSeconds * 1000);
    const drift = this.startDriftCheck(reconciler);
    const sessions = this.startSessionPoll();
    const readback =
      config.timings.announcementCheckSeconds > 0
        ? setInterval(() => void announcements.check(), config.timings.announcementCheckSeconds * 1000)
        : undefined;
    const signal = await this.stop.requested;
    clearInterval(readback);
    announcements.stop();
    log.info({ signal, stage: stageOf(liveness, watch, this.applier) }, "shutting down: draining");
    clearInterval(resync);
    monitor.stop();
    clearInterval(sessions);
    if (drift) clearInterval(drift);
    const exitCode = await this.shutdown(watch, reconciler, liveness, templates, addresses);
    server.close();
    return exitCode;
  }

  /** problem: undefined when vtysh/frr-reload.py here are the running daemons' release. */
  private async checkFrrVersion(): Promise<{ problem: string | undefined; retry: boolean }> {
    try {
      const { tools, daemon } = await this.frr.versions(join(frrStateDir(this.config), "bgpd.vty"));
      if (tools === daemon) return { problem: undefined, retry: false };
      const problem =
        `FRR version mismatch: this container's vtysh and frr-reload.py are FRR ${tools}, ` +
        `the running bgpd is FRR ${daemon}; refusing to apply (run the advertiser from the image of ` +
        `the FRR release the daemons run)`;
      return { problem, retry: false };
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return { problem: `FRR's version could not be read (retrying): ${why}`, retry: true };
    }
  }

  /** The read-back (see AnnouncementCheck): what bgpd sends each peer vs what was applied. */
  private announcementCheck(reconciler: Reconciler, recorder: EventRecorder): AnnouncementCheck {
    const { config, log } = this;
    return new AnnouncementCheck({
      wanted: () => (reconciler.healthy ? reconciler.desiredState?.prefixes : undefined),
      sessions: async () => parseBgpSummary(await this.frr.bgpSummary()),
      advertised: (peer, family) => this.frr.advertisedRoutes(peer, family),
      reannounce: async (prefixes) => {
        await this.applier.reannounce(prefixes);
      },
      fullApply: () => {
        reconciler.requestFullApply();
        // A refresh of what every peer was sent, whatever the reload changes.
        this.frr.softClearOut().catch((err: unknown) => {
          log.warn({ err: String(err) }, "clear bgp soft out failed");
        });
      },
      stuckAfterMs: config.timings.announcementStuckMs,
      onError: (err) => {
        log.debug({ err: String(err) }, "announcement check skipped");
      },
      report: (r) => {
        this.metrics.notAdvertised.set(r.stuck.length);
        if (r.repairs.reannounce > 0)
          this.metrics.announcementRepairs.inc({ action: "reannounce" }, r.repairs.reannounce);
        if (r.repairs.fullApply > 0) this.metrics.announcementRepairs.inc({ action: "full_apply" });
        if (r.stuck.length === 0 && r.recovered.length === 0) return;
        const fields = {
          stuck: r.stuck.slice(0, 20),
          count: r.stuck.length,
          repairs: r.repairs,
          recovered: r.recovered.length,
        };
        if (r.stuck.length > 0)
          log.warn(fields, "prefixes wanted but not advertised to every established peer");
        else log.info(fields, "prefixes advertised again after repair");
        if (r.stuck.length > 0)
          recorder.record({
            kind: "Node",
            service: config.nodeName,
            uid: config.nodeName,
            type: "Warning",
            reason: r.unrepaired.length > 0 ? "PrefixesNotAdvertised" : "PrefixesReannounced",
            message: notAdvertisedMessage(r),
          });
      },
    });
  }

  private trialRender(t: CompiledTemplates): void {
    renderFrrConf(t, toTemplateContext(this.config, combineEvaluations([])));
  }

  private async runningNetworks(): Promise<ReadonlySet<string>> {
    const running = parseConf(await this.frr.bgpdRunningConfig());
    return new Set([...(running?.networks.values() ?? [])].map((p) => p.line.split(" ")[1] ?? ""));
  }

  /**
   * Kernel address events on the service interface: an address someone else removed (or added)
   * gets a repair pass at once, instead of waiting for a periodic listing of every address.
   */
  private startAddressMonitor(
    addresses: ReturnType<typeof createAddressSync>,
    reconciler: Reconciler,
  ): AddressMonitor {
    const log = this.log.child({ component: "netif" });
    let quiet: NodeJS.Timeout | undefined;
    const monitor = new AddressMonitor({
      iface: this.config.interface,
      netns: this.config.netns,
      onEvent: (event) => {
        if (!addresses.reconciler.observe(event)) return;
        // One line per burst: a tool that flushes the interface would otherwise log 10k.
        if (quiet === undefined) {
          log.warn({ ...event }, "interface address changed behind our back; repairing");
          quiet = setTimeout(() => (quiet = undefined), 5000).unref();
        }
        reconciler.requestAddressRepair();
      },
      onGap: () => {
        reconciler.requestAddressRepair();
      },
      log,
    });
    monitor.start();
    return monitor;
  }

  /** BGP session state and prefixes sent per peer, for metrics (timings.sessionPollSeconds). */
  private startSessionPoll(): NodeJS.Timeout {
    return setInterval(() => {
      this.pollSessions();
    }, this.config.timings.sessionPollSeconds * 1000);
  }

  /** Reads `show bgp summary json` (over the kept vty connection) into the metrics and readiness. */
  private pollSessions(): void {
    this.frr.bgpSummary().then(
      (summary) => {
        this.sessions = parseBgpSummary(summary);
        this.metrics.observeSessions(this.sessions);
      },
      () => {
        this.sessions = [];
        this.metrics.observeSessions([]);
      },
    );
  }

  /** For /readyz: while waiting for a session, each probe also polls, so the next one sees it. */
  private sessionReadiness(): string[] {
    if (!this.waitsForSession()) return [];
    this.pollSessions();
    return ["no BGP session Established yet"];
  }

  /** server.readyRequiresEstablishedSession: neighbours are configured and none is Established. */
  private waitsForSession(): boolean {
    if (!this.config.server.readyRequiresEstablishedSession || this.config.bgp.neighbors.length === 0)
      return false;
    return !this.sessions.some((s) => s.established);
  }

  /** Compares FRR's running config with frr.conf now and then; any drift → full re-apply. */
  private startDriftCheck(reconciler: Reconciler): NodeJS.Timeout | undefined {
    const seconds = this.config.timings.driftCheckIntervalSeconds;
    if (seconds === 0) return undefined;
    return setInterval(() => {
      if (this.applier.appliedConfig === undefined) return;
      this.frr.diff(this.config.frr.configFile).then(
        (d) => {
          if (isEmptyDiff(d)) return;
          this.log.warn(
            { add: d.toAdd.length, delete: d.toDelete.length },
            "FRR's running config drifted from frr.conf; re-applying",
          );
          reconciler.requestFullApply();
        },
        (err: unknown) => {
          this.log.warn({ err: String(err) }, "drift check failed");
        },
      );
    }, seconds * 1000);
  }

  /**
   * The drain that fits the stage: inputs stop first, a pass in flight ends after its current
   * step, then drainNode withdraws whatever FRR runs (this run's applies or an earlier run's),
   * waits for the peers, removes our addresses and leaves a drained frr.conf. Exit 0 only when
   * every step finished within timings.shutdownTimeoutSeconds.
   */
  private async shutdown(
    watch: ClusterWatch,
    reconciler: Reconciler,
    liveness: FrrLiveness,
    templates: TemplateSource,
    addresses: ReturnType<typeof createAddressSync>,
  ): Promise<number> {
    const deadline = Date.now() + this.config.timings.shutdownTimeoutSeconds * 1000;
    const within = (p: Promise<unknown>, share: number) =>
      Promise.race([p.then(() => true), sleep((deadline - Date.now()) * share).then(() => false)]);
    if (!(await within(watch.stop(), 0.1)))
      this.log.warn({}, "watches did not stop in time; draining anyway");
    await templates.close();
    if (!(await within(reconciler.stop(), 0.5)))
      this.log.warn({}, "the pass in flight did not end in time; draining anyway");
    liveness.stop();
    const frrAnswers = liveness.isUp || (await this.frr.isUp().catch(() => false));
    const report = await drainNode(
      {
        mode: this.config.mode,
        // No service, but the same neighbours: a drain must not touch the sessions it waits on.
        drainedConfig: renderFrrConf(
          templates.current,
          toTemplateContext(this.config, {
            ...combineEvaluations([]),
            neighbors:
              reconciler.desiredState?.neighbors ?? neighborsForNode(this.config.policy, this.store.node),
          }),
        ),
        applier: this.applier,
        addresses,
        frrAnswers,
        bgpSummary: () => this.frr.bgpSummary(),
      },
      reconciler.desiredState,
      deadline,
    );
    this.frr.disconnect();
    if (report.unfinished.length > 0) {
      this.log.error(
        { unfinished: report.unfinished, withdrawn: report.withdrawn },
        "drain incomplete; exiting",
      );
      return 1;
    }
    this.log.info({ withdrawn: report.withdrawn, frrAnswered: frrAnswers }, "drained; exiting");
    return 0;
  }
}

function notAdvertisedReason(unrepaired: readonly string[]): string[] {
  if (unrepaired.length === 0) return [];
  const shown = unrepaired.slice(0, 5).join(", ");
  return [`${unrepaired.length} prefix(es) not advertised to every established peer after repair: ${shown}`];
}

function notAdvertisedMessage(r: CheckReport): string {
  const shown = r.stuck.slice(0, 10).join(", ") + (r.stuck.length > 10 ? ", …" : "");
  const done =
    r.unrepaired.length > 0
      ? `still missing after re-announcing and a full reload (${r.unrepaired.length})`
      : r.repairs.fullApply > 0
        ? "re-applying the full config"
        : "re-announcing them";
  return `bgpd does not send ${r.stuck.length} wanted prefix(es) to every established peer: ${shown}; ${done}`;
}

/** For the shutdown log: how far start-up had come when the signal arrived. */
function stageOf(liveness: FrrLiveness, watch: ClusterWatch, applier: ConfigApplier): string {
  if (applier.appliedConfig !== undefined) return "running";
  if (!liveness.isUp) return "waiting for FRR";
  if (!watch.synced) return "waiting for the first list";
  return "first apply";
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

/** Where FRR's daemons keep their pid files and vty sockets (the pathspace is a subdirectory). */
function frrStateDir(config: Config): string {
  return config.frr.pathspace === "" ? config.frr.runDir : join(config.frr.runDir, config.frr.pathspace);
}
