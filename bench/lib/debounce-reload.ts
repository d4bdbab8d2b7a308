// The method MetalLB's FRR mode and frr-k8s use, on the same FRR: a change waits for a 3 s
// debounce, then frr-reload.py brings FRR to the whole new file. Its own lab (node FRR with N
// `network` lines and the session up), nothing of the sidecar running; the addresses are on lo
// beforehand (import-check stays on, as in a stock config), which favours this method.
// With --frr image (FA_LAB_FRR=image) the node's FRR and frr-reload.py are the image's; the reloads
// run in one long-lived shell in the image (./image-sidecar.ts), so each costs a python process, as
// on the host, not a container start.
// Imports the lab: import this module only after FA_LAB_FRR is set (bench/run-bench.ts).

import { execa } from "execa";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LAB_FRR_IMAGE } from "../../tests/lab/image-frr.js";
import { createLab, minimalNodeConfig, type LabInfo } from "../../tests/lab/netns-lab.js";
import { nodeProgramRunner } from "./image-sidecar.js";
import { seedPrefixes } from "./seed.js";
import { summarize, type Summary } from "./stats.js";
import { ChangeTracker, FibMonitor, TorBgp } from "./tor-observer.js";

export const DEBOUNCE_MS = 3000;

export interface DebounceReloadResult {
  readonly n: number;
  readonly samples: number;
  readonly debounceMs: number;
  /** frr-reload.py --reload of the whole file, per change. */
  readonly reloadMs: Summary;
  /** Change (the event) → the tor's FIB, debounce included. */
  readonly fibMs: Summary;
}

export async function runDebounceReloadBaseline(
  n: number,
  samples: number,
  log: (s: string) => void,
): Promise<DebounceReloadResult> {
  const prefixes = seedPrefixes(n);
  let info: LabInfo | undefined;
  const lab = await createLab({
    nodeConfig: (i) => {
      info = i;
      return minimalNodeConfig(i, { networks: prefixes });
    },
  });
  const fib = new FibMonitor(lab.torNs);
  const bgp = new TorBgp(lab.torNs);
  const tracker = new ChangeTracker(fib, bgp, 5, 120_000);
  const node = nodeProgramRunner(LAB_FRR_IMAGE, lab.nodeNs, join(lab.dir, "reload-shell.out"));
  try {
    await node.ready();
    const batch = prefixes.map((p) => `address add ${p} dev lo\n`).join("");
    await execa("ip", ["-n", lab.nodeNs, "-batch", "-"], { input: batch });
    fib.start();
    await lab.waitForSession(30_000);
    await bgp.waitCount((c) => c >= n, 180_000);
    await sleep(1500);
    const file = join(lab.dir, "debounced.conf");
    const reloads: number[] = [];
    const apply = async (networks: readonly string[]): Promise<void> => {
      await sleep(DEBOUNCE_MS);
      if (info === undefined) throw new Error("the lab gave no info");
      await writeFile(file, minimalNodeConfig(info, { networks }));
      const t = performance.now();
      await node.run(lab.frrReloadArgs(file));
      reloads.push(performance.now() - t);
    };
    for (let k = 0; k < samples; k++) {
      const victim = prefixes[(k * 7919) % n] ?? "";
      const without = prefixes.filter((p) => p !== victim);
      // A withdrawal, then the announcement back: each one change, each its own debounce + reload.
      let pending: Promise<void> = Promise.resolve();
      await tracker.track(victim, false, () => {
        pending = apply(without);
      });
      await pending;
      await tracker.track(victim, true, () => {
        pending = apply(prefixes);
      });
      await pending;
      log(`  debounce+reload: ${k + 1}/${samples} samples`);
    }
    const fibMs = tracker.done.map((c) => (c.fibAt === undefined ? undefined : c.fibAt - c.t0));
    return { n, samples, debounceMs: DEBOUNCE_MS, reloadMs: summarize(reloads), fibMs: summarize(fibMs) };
  } finally {
    await node.close();
    tracker.stop();
    fib.stop();
    bgp.close();
    await lab.destroy();
  }
}
