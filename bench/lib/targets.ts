// The targets of issue "Scale and start-up" and the figure each one reads from a size's results:
// one list, which the run's checks and the README's performance table both derive from.

import type { SizeResult, Spread } from "./results.js";

/** Per size: "small" below 10k Services, "large" from 10k. */
export const TARGETS = {
  changeP99Ms: 200,
  loadP99Ms: 250,
  idleCpuMsPerPass: 5,
  idleFrrCalls: 0,
  startingMs: 300,
  soakGrowthPct: 10,
  drainTorEmptyMs: 1000,
  drainExitMs: 2000,
  small: { warmSyncMs: 1000, coldAfterSessionMs: 1000, rssMb: 80 },
  large: { warmSyncMs: 3000, coldAfterSessionMs: 2000, rssMb: 128 },
};

export interface TargetFigure {
  /** Short name (the README table's first column), with its unit. */
  readonly name: string;
  readonly unit: "ms" | "MB" | "%" | "";
  /** The figure; undefined when the run did not measure it (a phase off, or a failure). */
  readonly value: (s: SizeResult) => number | undefined;
  /** The limit for this size (inclusive); undefined: the figure has no target (context). */
  readonly limit: (n: number) => number | undefined;
  /** Whether the size's run has this figure at all (e.g. the attributes phase may be off). */
  readonly applies?: (s: SizeResult) => boolean;
  /** A median of several samples (the restarts'): shown with its range. */
  readonly spread?: (s: SizeResult) => Spread;
  readonly digits?: number;
}

const bySize =
  <K extends keyof (typeof TARGETS)["small"]>(k: K) =>
  (n: number) =>
    (n >= 10_000 ? TARGETS.large : TARGETS.small)[k];
const always = (limit: number) => () => limit;

/** The README table's rows, in its order. */
export const TARGET_FIGURES: readonly TargetFigure[] = [
  {
    name: "change → peer FIB p99, sequential (ms)",
    unit: "ms",
    value: (s) => s.sequential.all.fib.p99,
    limit: always(TARGETS.changeP99Ms),
  },
  {
    name: "FRR alone, the same change, p99 (ms)",
    unit: "ms",
    value: (s) => s.floor?.fib.p99,
    limit: () => undefined,
    applies: (s) => s.floor !== undefined,
  },
  {
    name: "change → peer FIB p99, 100 changes/s (ms)",
    unit: "ms",
    value: (s) => s.load.all.fib.p99,
    limit: always(TARGETS.loadP99Ms),
  },
  {
    name: "attributes: flip → peer FIB p99 (ms)",
    unit: "ms",
    value: (s) => s.attributes?.flips.all.fib.p99,
    limit: always(TARGETS.changeP99Ms),
    applies: (s) => s.attributes !== undefined,
  },
  {
    name: "new attribute set → peer FIB p99 (ms)",
    unit: "ms",
    value: (s) => s.attributes?.newSet.announce.fib.p99,
    limit: always(TARGETS.changeP99Ms),
    applies: (s) => s.attributes !== undefined,
  },
  {
    name: "FRR alone, a new attribute set, p99 (ms)",
    unit: "ms",
    value: (s) => s.floor?.newSet?.announce.fib.p99,
    limit: () => undefined,
    applies: (s) => s.floor?.newSet !== undefined,
  },
  {
    name: "sidecar restart, session up → all in FIB, median (ms)",
    unit: "ms",
    value: (s) => s.restarts.fibAllMs.median,
    limit: bySize("warmSyncMs"),
    spread: (s) => s.restarts.fibAllMs,
  },
  {
    name: "cold start → all in FIB after session up (ms)",
    unit: "ms",
    value: (s) =>
      s.syncCold.fibAllMs === undefined || s.syncCold.sessionMs === undefined
        ? undefined
        : s.syncCold.fibAllMs - s.syncCold.sessionMs,
    limit: bySize("coldAfterSessionMs"),
  },
  {
    name: 'process start → "starting", median (ms)',
    unit: "ms",
    value: (s) => s.restarts.startingMs.median,
    limit: always(TARGETS.startingMs),
    spread: (s) => s.restarts.startingMs,
  },
  {
    name: "RSS once trimmed, max of after sync / churn (MB)",
    unit: "MB",
    value: (s) => Math.max(s.procAfterSyncTrimmed.rssMb, s.procAfterChurnTrimmed.rssMb),
    limit: bySize("rssMb"),
    digits: 1,
  },
  {
    name: "RSS growth over the soak (%)",
    unit: "%",
    value: (s) => s.soak?.rssGrowthPct,
    limit: always(TARGETS.soakGrowthPct),
    applies: (s) => s.soak !== undefined,
    digits: 1,
  },
  {
    name: "idle pass CPU, net (ms)",
    unit: "ms",
    value: (s) => s.idle.cpuMsPerPassNet,
    limit: always(TARGETS.idleCpuMsPerPass),
    digits: 1,
  },
  {
    name: "FRR calls while idle",
    unit: "",
    value: (s) => s.idle.frrCalls,
    limit: always(TARGETS.idleFrrCalls),
  },
  {
    name: "drain → peer FIB empty (ms)",
    unit: "ms",
    value: (s) => s.drain.fibNoneMs,
    limit: always(TARGETS.drainTorEmptyMs),
  },
  {
    name: "drain → process exit (ms)",
    unit: "ms",
    value: (s) => s.drain.exitMs,
    limit: always(TARGETS.drainExitMs),
  },
];

/** Whether a measured figure meets its limit (a figure without a limit always does). */
export function meets(f: TargetFigure, s: SizeResult): boolean {
  const limit = f.limit(s.n);
  const v = f.value(s);
  if (limit === undefined) return true;
  return v !== undefined && Number.isFinite(v) && v <= limit;
}
