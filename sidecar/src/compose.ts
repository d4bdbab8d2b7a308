// The composition root of the live sidecar: builds every part of `run` and connects their callbacks
// (watch → reconcile → apply → report; FRR liveness → version gate → full apply; probes, metrics).
// Starting, stopping and draining the parts is the lifecycle's job (cli/run-command.ts).

import type { Server } from "node:http";
import { dirname, join } from "node:path";
import { Periodic, type Clock, type Loop } from "./clock.js";
import type { Config } from "./config/load-config.js";
import { createRunner } from "./exec.js";
import { parseBgpSummary } from "./frr/bgp-status.js";
import { ConfigApplier } from "./frr/config-applier.js";
import { DriftCheck } from "./frr/drift-check.js";
import { FrrClient } from "./frr/frr-client.js";
import { FrrLiveness } from "./frr/frr-liveness.js";
import { SessionPoll } from "./frr/session-poll.js";
import { VerifiedRecord } from "./frr/verified-record.js";
import { VersionGate } from "./frr/version-gate.js";
import { ClusterStore } from "./kube/cluster-store.js";
import { ClusterWatch, loadKubeConfig } from "./kube/cluster-watch.js";
import { apiEventPoster, EventRecorder } from "./kube/event-recorder.js";
import type { Logger } from "./log.js";
import { Metrics } from "./metrics.js";
import { MemoryTrim, memoryReducingCollector } from "./memory-trim.js";
import { combineEvaluations } from "./model/desired-state.js";
import { hostPrefixesOf } from "./model/ip.js";
import { AddressMonitor } from "./netif/address-monitor.js";
import { createAddressSync, type LiveAddressSync } from "./netif/address-sync.js";
import { AnnouncementCheck, type CheckReport } from "./reconcile/announcement-check.js";
import { Reconciler, type WithdrawalHoldEvent } from "./reconcile/reconciler.js";
import { decisionsView } from "./reconcile/decisions-view.js";
import type { WithdrawalHold } from "./model/desired-state-types.js";
import { ServiceEventReporter } from "./reconcile/service-event-reporter.js";
import { toTemplateContext } from "./render/context.js";
import { renderFrrConf } from "./render/renderer.js";
import { startServer } from "./server.js";
import type { StopSignals } from "./stop-signals.js";
import { TemplateSource } from "./templates/template-source.js";

/** The parts the lifecycle starts, stops and drains. */
export interface LiveSidecar {
  readonly store: ClusterStore;
  readonly frr: FrrClient;
  readonly applier: ConfigApplier;
  readonly templates: TemplateSource;
  readonly addresses: LiveAddressSync;
  readonly reconciler: Reconciler;
  readonly watch: ClusterWatch;
  readonly liveness: FrrLiveness;
  readonly versionGate: VersionGate;
  readonly announcements: AnnouncementCheck;
  readonly monitor: AddressMonitor;
  /** A backstop only: while the monitor runs, the kernel tells us about drift. */
  readonly addressRepair: Loop;
  readonly drift: Loop;
  readonly sessions: Loop;
  /** The periodic read-back (announcementCheckSeconds; 0 = only after applies). */
  readonly readback: Loop;
  /** Gives the JS heap's emptied pages back once applies pause (ADR 0015). */
  readonly memoryTrim: MemoryTrim;
  /** /healthz /readyz /metrics, listening already. */
  readonly server: Server;
  /** The drain sets frr_advertiser_graceful_shutdown. */
  readonly metrics: Metrics;
}

/** Throws when the templates cannot render the empty state: a broken invariant at start. */
export async function composeSidecar(
  config: Config,
  log: Logger,
  stop: StopSignals,
  clock: Clock,
): Promise<LiveSidecar> {
  const metrics = new Metrics();
  const store = new ClusterStore();
  const runner = createRunner(config.timings.reloadTimeoutSeconds * 1000);
  const frr = new FrrClient(runner, {
    vtysh: config.frr.vtysh,
    reloadScript: config.frr.reloadScript,
    pathspace: config.frr.pathspace,
    workDir: dirname(config.frr.configFile),
    reloadTimeoutMs: config.timings.reloadTimeoutSeconds * 1000,
    bgpdVtySocket: config.frr.deltaTransport === "vty" ? join(frrStateDir(config), "bgpd.vty") : undefined,
    bgpAsn: config.bgp.asn,
    onReadBack: (form) => {
      metrics.readBacks.inc({ form });
    },
  });
  let refusal: string | undefined;
  const applier = new ConfigApplier(frr, config.frr.configFile, log.child({ component: "frr" }), {
    observe: (method, seconds, ok) => {
      metrics.observeApply(method, seconds, ok);
    },
    allowSessionReset: config.templates.allowSessionReset,
    verified: new VerifiedRecord(`${config.frr.configFile}.verified`),
    // The record compares bgpd only: every daemon is compared off the start's path (ADR 0020).
    onTakenAsRunning: () => {
      drift.soon();
    },
    onSessionResetRefused: (impact) => {
      metrics.sessionResetRefusals.inc();
      refusal = `refused a config change that would reset BGP sessions (${impact.peers
        .filter((p) => p.impact === "reset")
        .map((p) => p.peer)
        .join(
          ", ",
        )}${impact.resetsAll.length > 0 ? ", every session" : ""}); templates.allowSessionReset is false`;
      recorder.record({
        kind: "Node",
        service: config.nodeName,
        uid: config.nodeName,
        type: "Warning",
        reason: "SessionResetRefused",
        message: refusal,
      });
    },
  });
  const templates = new TemplateSource(
    config.frr.templateDir,
    (t) => {
      renderFrrConf(t, toTemplateContext(config, combineEvaluations([])));
    },
    log.child({ component: "templates" }),
    clock,
  );
  await templates.load();
  const addresses = createAddressSync(runner, config, log.child({ component: "netif" }));
  const kc = loadKubeConfig();
  const recorder = new EventRecorder(apiEventPoster(kc), {
    nodeName: config.nodeName,
    onDropped: (why) => {
      metrics.events.inc({ result: why });
    },
  });
  const events = new ServiceEventReporter(
    recorder,
    config.nodeName,
    () => {
      metrics.events.inc({ result: "posted" });
    },
    (service) => store.service(service)?.uid,
  );
  const reconciler = new Reconciler({
    store,
    config,
    templates: () => templates.current,
    applier,
    addresses,
    isSynced: () => watch.synced,
    frrUp: () => liveness.isUp && versionGate.problem === undefined,
    runningNetworks: () => applier.runningPrefixes(),
    report: (r) => {
      metrics.observe(r);
      events.observe(r);
      if (r.outcome === "failed")
        log.error({ stage: r.stage, err: r.error }, "reconcile failed; last good config stays in force");
      else if (r.outcome === "applied") {
        // A fast pass names its changes; the settle pass after it reports the whole state.
        log.info(
          { frr: r.frr, prefixes: r.state?.prefixes.length, changes: r.prefixChanges, ms: r.durationMs },
          "applied",
        );
        // Once applies pause: bgpd needs a moment to send, and under churn the periodic check looks.
        announcements.checkWhenQuiet(config.timings.announcementStuckMs);
        sessions.pollWhileWaiting();
        memoryTrim.workDone();
      }
    },
    onWithdrawalHold: (e) => {
      metrics.withdrawalHolds.inc({ transition: e.kind });
      reportWithdrawalHold(e, log, recorder, config.nodeName);
    },
    clock,
  });
  const memoryLog = log.child({ component: "memory" });
  const memoryTrim = new MemoryTrim({
    clock,
    quietMs: config.timings.memoryTrimSeconds * 1000,
    collect: memoryReducingCollector(),
    rss: () => process.memoryUsage.rss(),
    elapsedMs: () => performance.now(),
    report: (r) => {
      metrics.observeMemoryTrim(r);
      memoryLog.debug(
        { ms: Math.round(r.ms), rssBeforeMb: mb(r.rssBeforeBytes), rssAfterMb: mb(r.rssAfterBytes) },
        "memory trimmed",
      );
    },
  });
  if (!memoryTrim.enabled && config.timings.memoryTrimSeconds > 0)
    memoryLog.info({}, "memory trim off: node runs without --expose-gc (the image's entrypoint has it)");
  const announcements = new AnnouncementCheck({
    wanted: () => (reconciler.healthy ? hostPrefixesOf(reconciler.announcedAddresses) : undefined),
    sessions: async () => parseBgpSummary(await frr.bgpSummary()),
    advertised: (peer, family) => frr.advertisedRoutes(peer, family),
    reannounce: async (prefixes) => {
      await applier.reannounce(prefixes);
    },
    fullApply: () => {
      reconciler.requestFullApply();
      // A refresh of what every peer was sent, whatever the reload changes.
      frr.softClearOut().catch((err: unknown) => {
        log.warn({ err: String(err) }, "clear bgp soft out failed");
      });
    },
    stuckAfterMs: config.timings.announcementStuckMs,
    onError: (err) => {
      log.debug({ err: String(err) }, "announcement check skipped");
    },
    report: (r) => {
      observeReadBack(r, metrics);
      logReadBack(r, log, recorder, config.nodeName);
    },
    clock,
  });
  templates.onChange(() => {
    reconciler.templatesChanged();
  });
  const watch = new ClusterWatch(kc, store, {
    nodeName: config.nodeName,
    onChange: () => {
      reconciler.schedule();
    },
    onRestart: (resource) => {
      metrics.informerRestarts.inc({ resource });
    },
    log: log.child({ component: "kube" }),
    clock,
  });
  // Read while FRR's daemons are checked: the first apply waits for the version check.
  void frr.toolsVersion().catch(() => undefined);
  const versionGate = new VersionGate({
    clock,
    versions: () => frr.versions(join(frrStateDir(config), "bgpd.vty")),
    keepTrying: () => liveness.isUp && stop.received === undefined,
    onVerified: () => {
      reconciler.requestFullApply();
    },
    log,
  });
  const liveness = new FrrLiveness({
    stateDir: frrStateDir(config),
    daemons: ["zebra", "bgpd"],
    intervalMs: config.timings.frrPollIntervalMs,
    clock,
    isUp: () => frr.isUp(),
    onUp: (again) => {
      frr.disconnect(); // a connection from before the restart is dead
      applier.invalidate(again);
      versionGate.check();
    },
    onDown: () => {
      log.warn({}, "FRR restarted or stopped");
    },
  });
  const netifLog = log.child({ component: "netif" });
  let quiet = false;
  // Kernel address events on the service interface: an address someone else removed (or added)
  // gets a repair pass at once, instead of waiting for a periodic listing of every address.
  const monitor = new AddressMonitor({
    iface: config.interface,
    keptAs: config.localRoutes ? "local-route" : "address",
    netns: config.netns,
    onEvent: (event) => {
      if (!addresses.reconciler.observe(event)) return;
      // One line per burst: a tool that flushes the interface would otherwise log 10k.
      if (!quiet) {
        netifLog.warn({ ...event }, "interface address changed behind our back; repairing");
        quiet = true;
        clock.after(5000, () => (quiet = false));
      }
      reconciler.requestAddressRepair();
    },
    onGap: () => {
      reconciler.requestAddressRepair();
    },
    log: netifLog,
    clock,
  });
  const sessions = new SessionPoll({
    clock,
    intervalMs: config.timings.sessionPollSeconds * 1000,
    summary: () => frr.bgpSummary(),
    observe: (s) => {
      metrics.observeSessions(s);
    },
    readyRequiresSession: config.server.readyRequiresEstablishedSession && config.bgp.neighbors.length > 0,
  });
  const server = await startServer(
    config.server.address,
    config.server.port,
    {
      notReadyReasons: () => [
        ...(watch.synced ? [] : ["cluster watch not synced"]),
        ...(liveness.isUp ? [] : ["FRR not answering"]),
        ...(liveness.isUp && versionGate.problem !== undefined ? [versionGate.problem] : []),
        ...(reconciler.healthy ? [] : ["last apply did not succeed"]),
        ...(reconciler.healthy || refusal === undefined ? [] : [refusal]),
        ...withdrawalHoldReason(reconciler.withdrawalHold),
        ...notAdvertisedReason(announcements.unrepaired),
        ...sessions.notReadyReasons(),
      ],
      decisions: (service) => {
        const state = reconciler.desiredState;
        return state === undefined ? undefined : decisionsView(config.nodeName, state, service);
      },
    },
    metrics.registry,
  );
  const drift = new DriftCheck({
    clock,
    intervalMs: config.timings.driftCheckIntervalSeconds * 1000,
    inStep: () => applier.inStep,
    diff: () => frr.diff(config.frr.configFile),
    requestFullApply: () => {
      reconciler.requestFullApply();
    },
    log,
  });
  return {
    store,
    frr,
    applier,
    templates,
    addresses,
    reconciler,
    watch,
    liveness,
    versionGate,
    announcements,
    monitor,
    addressRepair: new Periodic(clock, config.timings.resyncIntervalSeconds * 1000, () => {
      if (!monitor.running) reconciler.requestAddressRepair();
    }),
    drift,
    sessions,
    readback: new Periodic(clock, config.timings.announcementCheckSeconds * 1000, () => {
      void announcements.check();
    }),
    memoryTrim,
    server,
    metrics,
  };
}

function mb(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}

/** Where FRR's daemons keep their pid files and vty sockets (the pathspace is a subdirectory). */
function frrStateDir(config: Config): string {
  return config.frr.pathspace === "" ? config.frr.runDir : join(config.frr.runDir, config.frr.pathspace);
}

function observeReadBack(r: CheckReport, metrics: Metrics): void {
  metrics.notAdvertised.set(r.stuck.length);
  if (r.repairs.reannounce > 0)
    metrics.announcementRepairs.inc({ action: "reannounce" }, r.repairs.reannounce);
  if (r.repairs.fullApply > 0) metrics.announcementRepairs.inc({ action: "full_apply" });
}

/** A prefix stuck at a peer is news: a log line and a Warning Event on the Node. */
function logReadBack(r: CheckReport, log: Logger, recorder: EventRecorder, nodeName: string): void {
  if (r.stuck.length === 0 && r.recovered.length === 0) return;
  const fields = {
    stuck: r.stuck.slice(0, 20),
    count: r.stuck.length,
    repairs: r.repairs,
    recovered: r.recovered.length,
  };
  if (r.stuck.length > 0) log.warn(fields, "prefixes wanted but not advertised to every established peer");
  else log.info(fields, "prefixes advertised again after repair");
  if (r.stuck.length > 0)
    recorder.record({
      kind: "Node",
      service: nodeName,
      uid: nodeName,
      type: "Warning",
      reason: r.unrepaired.length > 0 ? "PrefixesNotAdvertised" : "PrefixesReannounced",
      message: notAdvertisedMessage(r),
    });
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

/** The breaker's transitions: a log line and an Event on this node's Node object. */
function reportWithdrawalHold(
  e: WithdrawalHoldEvent,
  log: Logger,
  recorder: EventRecorder,
  nodeName: string,
): void {
  const { hold } = e;
  const shown = hold.held
    .slice(0, 10)
    .map((p) => p.prefix)
    .join(", ");
  const fields = {
    held: hold.held.length,
    advertised: hold.advertised,
    reason: hold.reason,
    prefixes: shown,
  };
  const text = {
    held: `holding ${hold.held.length} of ${hold.advertised} prefixes the desired state withdraws (${hold.reason}) until ${new Date(hold.until).toISOString()}: a mass withdrawal that is not a drain of this node; applied then if it persists`,
    released: `the hold ran out with the state unchanged: withdrawing the ${hold.held.length} held prefixes (${hold.reason})`,
    cleared: `the desired state recovered: the ${hold.held.length} held prefixes stay advertised`,
  }[e.kind];
  if (e.kind === "held") log.warn(fields, "mass withdrawal held");
  else log.info(fields, e.kind === "released" ? "held withdrawals applied" : "withdrawal hold cleared");
  recorder.record({
    kind: "Node",
    service: nodeName,
    uid: nodeName,
    type: e.kind === "cleared" ? "Normal" : "Warning",
    reason: { held: "WithdrawalsHeld", released: "HeldWithdrawalsApplied", cleared: "WithdrawalHoldCleared" }[
      e.kind
    ],
    message: `${text}${hold.held.length > 10 ? `; first: ${shown}` : `: ${shown}`}`,
  });
}

function withdrawalHoldReason(hold: WithdrawalHold | undefined): string[] {
  if (hold === undefined) return [];
  return [
    `mass-withdrawal breaker: holding ${hold.held.length} of ${hold.advertised} prefixes (${hold.reason}) until ${new Date(hold.until).toISOString()}`,
  ];
}
