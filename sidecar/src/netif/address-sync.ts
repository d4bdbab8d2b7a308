// Wires interface addresses for `run`: ip adapter + owned-state file + reconciler, behind the
// Reconciler's AddressSync port. Throws when a change did not take effect, so the pass is retried.

import { basename, dirname, join } from "node:path";
import type { Config } from "../config/load-config.js";
import { spawnCoprocess, type Runner } from "../exec.js";
import type { Logger } from "../log.js";
import type { AddressSync } from "../reconcile/reconciler.js";
import { AddressReconciler, type AddressSyncOutcome } from "./address-reconciler.js";
import { DEFAULT_IP_TIMEOUT_MS, IpAddressAdapter, type AddressFailure, type KeptAs } from "./ip-addresses.js";
import { IpBatchSession } from "./ip-batch-session.js";
import { OwnedAddressStore } from "./owned-state.js";

// advertise.stateFile must survive the pod, not just the container: addresses on a hostNetwork
// interface outlive a deleted pod, so the chart mounts a hostPath there. On an emptyDir a
// re-created pod would find its old addresses un-owned: never removed (safe), but left behind.

export interface LiveAddressSync extends AddressSync {
  readonly reconciler: AddressReconciler;
  /** Ends the long-lived ip process (tests; `run` keeps it for its life). */
  close(): Promise<void>;
}

export function createAddressSync(runner: Runner, config: Config, log: Logger): LiveAddressSync {
  const iface = config.interface;
  // `ip -n NS` when the interface lives in another network namespace (labs, tests).
  const netns = config.netns === "" ? [] : ["-n", config.netns];
  // Every address change is a line to one long-lived ip: no process per change (at 10k Services
  // here an ip run took ≈ 19 ms of fork, exec and exit, on the path of each announcement).
  const session = new IpBatchSession({
    spawn: (onStderrLine) => spawnCoprocess(["ip", ...netns, "-force", "-batch", "-"], onStderrLine),
    timeoutMs: DEFAULT_IP_TIMEOUT_MS,
    onEnded: (why) => {
      log.warn({ iface, why }, "ip -batch ended; the next address change starts another");
    },
  });
  const run: Runner = (argv, options) =>
    runner(argv[0] === "ip" ? ["ip", ...netns, ...argv.slice(1)] : argv, {
      timeoutMs: DEFAULT_IP_TIMEOUT_MS,
      ...options,
    });
  const batch = (input: string) => session.run(input);
  const keptAs: KeptAs = config.localRoutes ? "local-route" : "address";
  const other: KeptAs = config.localRoutes ? "address" : "local-route";
  const ours = (kind: KeptAs) => {
    const adapter = new IpAddressAdapter({ iface, keptAs: kind, run, batch });
    const store = new OwnedAddressStore({
      // One file per interface and kind: switching either must not forget what we own under the other.
      path: ownedStatePath(config.stateFile, iface, kind),
      iface,
      warn: (message) => {
        log.warn({ iface }, message);
      },
    });
    return new AddressReconciler({ adapter, store });
  };
  const reconciler = ours(keptAs);
  let swept = false;
  // Before our first full step: what we own as the other kind (advertise.localRoutes was
  // switched) goes, so nothing is left behind under a record no one reads. A failure is logged
  // and tried again at the next full step; it never holds up this kind's changes.
  const sweepOtherKind = async (): Promise<void> => {
    if (swept) return;
    try {
      await sweepOwned(ours(other), config, log);
      swept = true;
    } catch (err) {
      log.warn(
        { err: String(err) },
        "removing the service IPs kept the other way failed; trying again later",
      );
    }
  };
  return {
    reconciler,
    close: () => session.close(),
    async sync(desired, phase, options = {}) {
      await sweepOtherKind();
      const outcome = await reconciler.syncAddresses(desired, config.policy.excludedIps, phase, options);
      report(outcome, log);
    },
    async syncChanged(wanted, phase) {
      const outcome = await reconciler.syncChanged(wanted, config.policy.excludedIps, phase);
      if (outcome === undefined) return false;
      report(outcome, log);
      return true;
    },
  };
}

/** The ownership file of `iface` for one kind: addresses keep the name they always had. */
export function ownedStatePath(stateFile: string, iface: string, kind: KeptAs): string {
  const base = join(dirname(stateFile), `${basename(stateFile, ".json")}.${iface}`);
  return kind === "address" ? `${base}.json` : `${base}.local-routes.json`;
}

/** Removes everything `reconciler` owns, when its record holds anything (a no-op otherwise). */
async function sweepOwned(reconciler: AddressReconciler, config: Config, log: Logger): Promise<void> {
  if (!(await reconciler.ownsAny())) return;
  const outcome = await reconciler.syncAddresses(new Set(), config.policy.excludedIps, "remove");
  log.info(
    { removed: outcome.remove.length, keptAs: config.localRoutes ? "address" : "local-route" },
    "advertise.localRoutes changed: service IPs kept the other way removed",
  );
  report(outcome, log);
}

function report(outcome: AddressSyncOutcome, log: Logger): void {
  const { phase, add, remove, ownedCount, failed, rejected } = outcome;
  if (add.length + remove.length > 0) {
    log.info(
      { phase, added: add.length, removed: remove.length, owned: ownedCount, failed: failed.length },
      "interface addresses changed",
    );
  }
  const foreign = rejected.filter((r) => r.op === "add" && !failed.some((f) => f.address === r.address));
  if (foreign.length > 0)
    log.warn({ addresses: foreign.map((r) => r.address) }, "addresses appeared meanwhile; left un-owned");
  if (failed.length > 0)
    throw new Error(`${failed.length} address change(s) did not take effect: ${describe(failed)}`);
}

function describe(failed: readonly AddressFailure[]): string {
  const shown = failed.slice(0, 5).map((f) => `${f.op} ${f.address} (${f.reason})`);
  return failed.length > 5 ? `${shown.join(", ")}, …` : shown.join(", ");
}
