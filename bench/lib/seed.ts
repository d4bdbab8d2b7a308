// The seed system's way of announcing services, on the same FRR: one
//   vtysh -c 'conf t' -c 'router bgp ASN' -c 'address-family ipv4 unicast' -c 'network X/32'
// process per prefix, run one after another. Its own lab (node FRR with a minimal BGP config and an
// established session), so nothing of the sidecar runs meanwhile. The addresses are put on lo
// beforehand in one untimed `ip -batch` (import-check needs them), which favours the seed.
// With --frr image (FA_LAB_FRR=image) the node's FRR and the vtysh processes are the image's: they
// run one after another in one long-lived shell in the image (./image-sidecar.ts), so each costs a
// vtysh process, as on the host, not a container start.
// Imports the lab: import this module only after FA_LAB_FRR is set (bench/run-bench.ts).

import { execa } from "execa";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LAB_FRR_IMAGE } from "../../tests/lab/image-frr.js";
import { createLab, minimalNodeConfig } from "../../tests/lab/netns-lab.js";
import { nodeProgramRunner } from "./image-sidecar.js";
import { FibMonitor, TorBgp, wallNow, watchFibCount } from "./tor-observer.js";
import { round } from "./stats.js";

export interface SeedResult {
  /** Prefixes announced (the sample). */
  readonly n: number;
  /** First vtysh start → last vtysh exit. */
  readonly processesMs: number;
  readonly perProcessMs: number;
  /** First vtysh start → all n in the tor's BGP table / FIB. */
  readonly wireAllMs: number | undefined;
  readonly fibAllMs: number | undefined;
}

export function seedPrefixes(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${serviceIp(i)}/32`);
}

/** Same address plan as the sidecar benchmark: 10.97.0.1, 10.97.0.2, … (inside 10.96.0.0/12). */
export function serviceIp(i: number): string {
  const v = (10 << 24) + (97 << 16) + i + 1;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join(".");
}

export async function runSeedBaseline(n: number, log: (s: string) => void): Promise<SeedResult> {
  const lab = await createLab({ nodeConfig: (i) => minimalNodeConfig(i) });
  const fib = new FibMonitor(lab.torNs);
  const bgp = new TorBgp(lab.torNs);
  const node = nodeProgramRunner(LAB_FRR_IMAGE, lab.nodeNs, join(lab.dir, "seed-shell.out"));
  try {
    await node.ready();
    await lab.waitForSession(30_000);
    const prefixes = seedPrefixes(n);
    const batch = prefixes.map((p) => `address add ${p} dev lo\n`).join("");
    await execa("ip", ["-n", lab.nodeNs, "-batch", "-"], { input: batch });
    fib.start();
    await sleep(1500); // past the update-group coalesce after the session came up
    const wanted = new Set(prefixes);
    const t0 = wallNow();
    const fibAll = watchFibCount(fib, wanted, (c) => c >= n);
    // The node's vtysh: the host's (`vtysh -N NS`, no `ip netns exec` around it), or the image's.
    const vtysh = [
      ...(LAB_FRR_IMAGE === undefined ? ["vtysh", "-N", lab.nodeNs] : lab.vtyshArgs("node")),
      "-c",
      "conf t",
      "-c",
      `router bgp ${lab.nodeAsn}`,
      "-c",
      "address-family ipv4 unicast",
    ];
    for (const [i, p] of prefixes.entries()) {
      await node.run([...vtysh, "-c", `network ${p}`]);
      if ((i + 1) % 250 === 0)
        log(`  seed: ${i + 1}/${n} vtysh processes, ${round((wallNow() - t0) / 1000, 1)} s`);
    }
    const tProcs = wallNow();
    const wireAt = await bgp.waitCount((c) => c >= n, 60_000);
    const deadline = wallNow() + 60_000;
    while (fibAll.at() === undefined && wallNow() < deadline) await sleep(10);
    fibAll.stop();
    const fibAt = fibAll.at();
    return {
      n,
      processesMs: round(tProcs - t0),
      perProcessMs: round((tProcs - t0) / n, 2),
      wireAllMs: wireAt === undefined ? undefined : round(wireAt - t0),
      fibAllMs: fibAt === undefined ? undefined : round(fibAt - t0),
    };
  } finally {
    await node.close();
    fib.stop();
    bgp.close();
    await lab.destroy();
  }
}
