// `frr-advertiser run`: reads its arguments and config, has compose.ts build the live sidecar, and
// owns the lifecycle: start, keep in sync until a stop signal, drain whatever the stage, exit code.

import { parseArgs } from "node:util";
import { sleep, systemClock, type Clock } from "../clock.js";
import { composeSidecar, type LiveSidecar } from "../compose.js";
import { ConfigError, loadConfigFile, type Config } from "../config/load-config.js";
import { createLogger, type Logger } from "../log.js";
import { combineEvaluations } from "../model/desired-state.js";
import { neighborsForNode } from "../model/neighbors.js";
import { drainNode } from "../reconcile/drain.js";
import { toTemplateContext } from "../render/context.js";
import { renderFrrConf } from "../render/renderer.js";
import type { StopSignals } from "../stop-signals.js";
import { configPathOf } from "./node-cli.js";
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
    configPath = configPathOf(values.config, io);
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
  return runSidecar(config, log, stop, systemClock);
}

async function runSidecar(config: Config, log: Logger, stop: StopSignals, clock: Clock): Promise<number> {
  log.info(
    { node: config.nodeName, mode: config.mode, modeReason: config.modeReason, interface: config.interface },
    "starting",
  );
  const s = await composeSidecar(config, log, stop, clock);
  const bound = s.server.address();
  log.info(
    {
      address: config.server.address,
      port: typeof bound === "object" && bound !== null ? bound.port : config.server.port,
    },
    "serving /healthz /readyz /metrics",
  );
  s.liveness.start();
  s.templates.watch();
  // Not awaited: a list that never answers must not hold up anything, the drain included.
  // Each watched resource schedules a reconcile once it has listed; nothing is applied before all have.
  void s.watch.start();
  s.monitor.start();
  s.addressRepair.start();
  s.drift.start();
  s.sessions.start();
  s.readback.start();
  s.memoryTrim.start();
  const signal = await stop.requested;
  s.memoryTrim.stop();
  s.readback.stop();
  s.announcements.stop();
  log.info({ signal, stage: stageOf(s) }, "shutting down: draining");
  s.addressRepair.stop();
  s.monitor.stop();
  s.sessions.stop();
  s.drift.stop();
  const exitCode = await shutdown(s, config, log, clock);
  s.server.close();
  return exitCode;
}

/**
 * The drain that fits the stage: inputs stop first, a pass in flight ends after its current
 * step, then drainNode withdraws whatever FRR runs (this run's applies or an earlier run's),
 * waits for the peers, removes our addresses and leaves a drained frr.conf. Exit 0 only when
 * every step finished within timings.shutdownTimeoutSeconds.
 */
async function shutdown(s: LiveSidecar, config: Config, log: Logger, clock: Clock): Promise<number> {
  const deadline = clock.now() + config.timings.shutdownTimeoutSeconds * 1000;
  const within = (p: Promise<unknown>, share: number) =>
    Promise.race([p.then(() => true), sleep(clock, (deadline - clock.now()) * share).then(() => false)]);
  if (!(await within(s.watch.stop(), 0.1))) log.warn({}, "watches did not stop in time; draining anyway");
  await s.templates.close();
  if (!(await within(s.reconciler.stop(), 0.5)))
    log.warn({}, "the pass in flight did not end in time; draining anyway");
  s.liveness.stop();
  s.versionGate.stop();
  const frrAnswers = s.liveness.isUp || (await s.frr.isUp().catch(() => false));
  const report = await drainNode(
    {
      mode: config.mode,
      // No service, but the same neighbours: a drain must not touch the sessions it waits on.
      drainedConfig: renderFrrConf(
        s.templates.current,
        toTemplateContext(config, {
          ...combineEvaluations([]),
          neighbors: s.reconciler.desiredState?.neighbors ?? neighborsForNode(config.policy, s.store.node),
        }),
      ),
      applier: s.applier,
      addresses: s.addresses,
      frrAnswers,
      bgpSummary: () => s.frr.bgpSummary(),
      gracefulShutdown: gracefulShutdown(s, config),
      log: log.child({ component: "drain" }),
      clock,
    },
    s.reconciler.desiredState,
    deadline,
  );
  s.frr.disconnect();
  const fields = { withdrawn: report.withdrawn, graceful: report.graceful };
  if (report.unfinished.length > 0) {
    log.error({ unfinished: report.unfinished, ...fields }, "drain incomplete; exiting");
    return 1;
  }
  log.info({ ...fields, frrAnswered: frrAnswers }, "drained; exiting");
  return 0;
}

/**
 * safety.gracefulShutdown for the drain: FRR's `bgp graceful-shutdown`, switched off again after
 * the withdrawal. The drained frr.conf never holds it, so FRR's next start (or the sidecar's first
 * full reload, should switching it off fail) announces without the community.
 */
function gracefulShutdown(s: LiveSidecar, config: Config) {
  const { enabled, waitSeconds } = config.safety.gracefulShutdown;
  if (!enabled) return undefined;
  return {
    waitMs: waitSeconds * 1000,
    start: async () => {
      await s.frr.gracefulShutdown(true);
      s.metrics.gracefulShutdown.set(1);
    },
    stop: async () => {
      await s.frr.gracefulShutdown(false);
      s.metrics.gracefulShutdown.set(0);
    },
  };
}

/** For the shutdown log: how far start-up had come when the signal arrived. */
function stageOf(s: LiveSidecar): string {
  if (s.applier.appliedConfig !== undefined) return "running";
  if (!s.liveness.isUp) return "waiting for FRR";
  if (!s.watch.synced) return "waiting for the first list";
  return "first apply";
}
