// Resource usage of one process from /proc: RSS (VmRSS, VmHWM) and CPU time.
// utime+stime come in clock ticks (10 ms here); the per-thread schedstat sum is in ns and is what
// the idle-reconcile figure uses (a 10 s window at 10 ms resolution would be too coarse).

import { readFileSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";

let clkTck: number | undefined;

function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

export interface ProcSample {
  /** performance.now() when sampled. */
  readonly at: number;
  readonly rssMb: number;
  /** Peak RSS so far. */
  readonly hwmMb: number;
  /** The anonymous part of RSS (heaps, stacks): what grows if anything leaks; the rest is mapped files. */
  readonly rssAnonMb: number;
  /** utime + stime of the process (all threads), ms, 10 ms resolution. */
  readonly cpuMs: number;
  /** CPU of waited-for children (vtysh, ip, frr-reload.py), ms. */
  readonly childCpuMs: number;
  /** Sum of the live threads' on-CPU time from schedstat, ms, ns resolution. */
  readonly schedCpuMs: number;
}

export function sampleProc(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after "(comm)": index 0 is field 3 (state); utime is field 14.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const tick = 1000 / ticksPerSecond();
  const field = (n: number): number => Number(f[n - 3] ?? NaN);
  return {
    at: performance.now(),
    rssMb: kb("VmRSS") / 1024,
    hwmMb: kb("VmHWM") / 1024,
    rssAnonMb: kb("RssAnon") / 1024,
    cpuMs: (field(14) + field(15)) * tick,
    childCpuMs: (field(16) + field(17)) * tick,
    schedCpuMs: schedCpuMs(pid),
  };
}

function schedCpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0] ?? 0);
    } catch {
      /* thread exited */
    }
  }
  return ns / 1e6;
}
