// The benchmark's results: what bench/run-bench.ts writes as JSON and what reads it back
// (bench/lib/readme-table.ts). Types only.

import type { CallCounts } from "./wrappers.js";
import type { DebounceReloadResult } from "./debounce-reload.js";
import type { BulkResult } from "./frr-floor.js";
import type { ProcSample } from "./proc.js";
import type { SeedResult } from "./seed.js";
import type { Summary } from "./stats.js";
import type { TARGETS } from "./targets.js";

/** The sidecar's own view of its memory (prom-client default metrics on /metrics). */
export interface HeapSample {
  readonly heapUsedMb: number | undefined;
  readonly heapTotalMb: number | undefined;
  readonly externalMb: number | undefined;
  /** V8's committed size per heap space ("new", "old", "code", "large_object", …), MB. */
  readonly spacesMb: Readonly<Record<string, number>>;
}

export interface MemSample extends ProcSample, HeapSample {}

export interface SyncResult {
  /**
   * --frr image only: spawn of `podman run` → the container's process started (podman's
   * State.StartedAt). "Process start" in the figures below is that start, as on the host it is
   * the spawn: the container runtime's own start-up is this figure, not the sidecar's.
   */
  readonly containerStartMs?: number;
  /** Process start → first log line ("starting": config loaded, modules imported). */
  readonly startingMs: number | undefined;
  /** Process start → the reconciler's first "applied" (what the sidecar believes). */
  readonly appliedMs: number | undefined;
  /** The first apply's own duration as logged. */
  readonly applyDurationMs: number | undefined;
  /** Process start → the tor's session Established: cold starts only (a warm one finds it up). */
  readonly sessionMs?: number | undefined;
  /** Process start → all N in the tor's BGP table (pfxRcd) / kernel FIB. */
  readonly wireAllMs: number | undefined;
  readonly fibAllMs: number | undefined;
  readonly fibFirstMs: number | undefined;
}

export interface LatencySet {
  readonly wire: Summary;
  readonly fib: Summary;
}

export interface ChangeResult {
  readonly all: LatencySet;
  readonly withdraw: LatencySet;
  readonly announce: LatencySet;
  /** Sequential phase: where each change's time went, split at the sidecar's "applied" log line. */
  readonly split?: { readonly withdraw: AppliedSplit; readonly announce: AppliedSplit };
}

/**
 * change → the sidecar's "applied" (watch event, pass, address step, the vty delta accepted by
 * bgpd) and "applied" → the tor's BGP table (bgpd's update, the wire, the tor's bgpd).
 */
export interface AppliedSplit {
  readonly toApplied: Summary;
  readonly appliedToWire: Summary;
}

/**
 * FRR alone (bench/lib/frr-floor.ts): the sequential phase's flips as `no network X/32` /
 * `network X/32` over one kept-open vty connection to the node's bgpd, no sidecar running.
 */
export interface FloorResult extends LatencySet {
  /** How the lines reached bgpd: "vty", one kept-open connection (the sidecar's VtyClient). */
  readonly method: string;
  /** The same in words (which bgpd, from where). */
  readonly note: string;
  readonly socket: string;
  /** Flips: each one withdrawal and one announcement sample. */
  readonly flips: number;
  readonly withdraw: LatencySet;
  readonly announce: LatencySet;
  /** N `network` lines in one batch → all N at the tor; the same batch of `no network` → none. */
  readonly load: BulkResult;
  readonly clear: BulkResult;
  /** With the attributes phase: new prefixes each with a route-map bgpd does not run yet. */
  readonly newSet?: ChangeResult;
}

export interface LoadResult extends ChangeResult {
  readonly requestedRate: number;
  readonly achievedRate: number;
  readonly changes: number;
  readonly durationMs: number;
  /** Reconciles that applied something during the phase, and their logged durations. */
  readonly applies: number;
  readonly applyMs: Summary;
  readonly maxPending: number;
  /** Ticks with no service left to change (only with very few services). */
  readonly skipped: number;
}

export interface AttributesResult {
  /** Services that carry communities, and the distinct sets among them. */
  readonly services: number;
  readonly sets: number;
  /** Readiness flips of Services whose set FRR runs. */
  readonly flips: ChangeResult;
  /** A new Service whose set FRR does not run yet (announce), then its deletion (withdraw). */
  readonly newSet: ChangeResult;
  /** frr-reload.py runs during the timed part (a new set used to cost one each). */
  readonly reloads: number;
}

export interface DrainResult {
  readonly wireNoneMs: number | undefined;
  readonly fibNoneMs: number | undefined;
  readonly exitMs: number;
  readonly exitCode: number | null;
  /** Set when the process was killed by a signal instead of exiting. */
  readonly exitSignal: string | null;
  /** Prefixes the tor still held when the measurement gave up (0 for a complete drain). */
  readonly leftAtTor: number;
}

export interface IdleResult {
  readonly windowMs: number;
  readonly resyncIntervalSeconds: number;
  /** Resync timer ticks in the window (window / interval). */
  readonly passes: number;
  /** Sidecar CPU per pass: raw (whole window / passes) and net (minus a window without resyncs). */
  readonly cpuMsPerPassRaw: number;
  readonly cpuMsPerPassNet: number;
  /** CPU of the processes it ran (ip …), per pass. */
  readonly childCpuMsPerPass: number;
  /** A same-length window with no resync (interval 60 s), the background: timers, liveness. */
  readonly baselineCpuMs: number;
  /** vtysh / frr-reload.py runs in the window, without the 10 s session-metrics poll. */
  readonly frrCalls: number;
  /** The session-metrics poll (`show bgp summary json`, every 10 s, not part of reconciling). */
  readonly metricsPolls: number;
  readonly calls: CallCounts;
}

/**
 * Every warm restart of a size with the plain Services: the first (syncWarm, after the first
 * drain) and `--restarts` more, each after the previous sidecar drained. One start is one sample
 * of a figure the machine's load moves by a third: the targets read the median.
 */
export interface RestartsResult {
  readonly samples: readonly SyncResult[];
  /** The drains before the extra restarts (each checked like the others). */
  readonly drains: readonly DrainResult[];
  readonly startingMs: Spread;
  readonly fibAllMs: Spread;
}

/** After the attributes phase: a restart that finds the attribute sets' Services in the API. */
export interface RestartWithAttributes {
  readonly sets: number;
  readonly sync: SyncResult;
  readonly drain: DrainResult;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface SizeResult {
  readonly n: number;
  readonly syncCold: SyncResult;
  readonly syncWarm: SyncResult;
  readonly restarts: RestartsResult;
  /** 3 s after the sync's routes are all at the peer. */
  readonly procAfterSync: MemSample;
  /** After the memory trim that follows (ADR 0015): what the sidecar holds once work pauses. */
  readonly procAfterSyncTrimmed: MemSample;
  /** 2 s after the load phase. */
  readonly procAfterChurn: MemSample;
  readonly procAfterChurnTrimmed: MemSample;
  readonly procAfterWarmSync: MemSample;
  readonly sequential: ChangeResult;
  readonly load: LoadResult;
  readonly idle: IdleResult;
  readonly drain: DrainResult;
  readonly drainWarm: DrainResult;
  readonly calls: Record<string, CallCounts>;
  /** Only with --soak-minutes, for the largest size. */
  readonly soak?: SoakResult;
  /** Off with --attribute-services 0. */
  readonly attributes?: AttributesResult;
  readonly restartWithAttributes?: RestartWithAttributes;
  /** FRR alone, after the last drain (off with --no-floor). */
  readonly floor?: FloorResult;
}

export interface SoakResult {
  readonly minutes: number;
  readonly rate: number;
  readonly rssStartMb: number;
  /** Both ends once the sidecar has trimmed (the start follows the churn phase's trim). */
  readonly rssEndMb: number;
  /** 2 s after the soak's last change, before the trim. */
  readonly rssEndUntrimmedMb: number;
  /** Memory trims the sidecar ran during the soak (and its final one), with their mean duration. */
  readonly trims?: { readonly count: number; readonly meanMs: number | undefined };
  /** (end − start) / start, in %. */
  readonly rssGrowthPct: number;
  /**
   * Growth between minute samples over the soak's second half only (the first at or past half
   * time → the last; undefined under two minutes): growth that stops early is warm-up (the JIT's
   * code, V8 sizing its heap), growth that goes on is a leak.
   */
  readonly rssGrowthSecondHalfPct: number | undefined;
  readonly heapUsedStartMb: number | undefined;
  readonly heapUsedEndMb: number | undefined;
  /** One sample a minute during the soak: a trend, not two points of the GC's saw-tooth. */
  readonly samples: readonly SoakSample[];
  readonly load: LoadResult;
}

/** The memory figures a soak sample keeps (spacesMb: which of V8's spaces grows, if the heap does). */
export type MemFigures = Pick<MemSample, "rssMb" | "rssAnonMb" | "heapUsedMb" | "heapTotalMb" | "spacesMb">;

export interface SoakSample extends MemFigures {
  /** Seconds since the soak began. */
  readonly atS: number;
}

export interface SeedRow extends SeedResult {
  readonly forSize: number;
  readonly extrapolated: boolean;
  /** Estimated time to all N in the tor's FIB for this size. */
  readonly fibAllMsForSize: number | undefined;
}

export interface Check {
  readonly what: string;
  readonly value: number | undefined;
  readonly target: string;
  readonly pass: boolean;
  /** A correctness check (fails the run), not a performance target. */
  readonly correctness?: boolean;
}

/** The JSON file a run writes (`--out`). */
export interface BenchReport {
  readonly meta: RunMeta;
  readonly floors: { readonly wireMs: number; readonly fibMs: number };
  readonly targets: typeof TARGETS;
  readonly sizes: readonly SizeResult[];
  readonly seed: readonly SeedRow[];
  readonly debounced: readonly DebounceReloadResult[];
  readonly checks: readonly Check[];
}

/** Where and what ran (the fields readers use; the JSON holds more). */
export interface RunMeta {
  readonly date: string;
  /** The node side's FRR release, and whose it was ("host (dpkg frr)" or the image). */
  readonly frr: string;
  readonly frrFrom: string;
  readonly sidecar: string;
  readonly commit: string;
  readonly options: { readonly frr: "host" | "image"; readonly localRoutes: boolean };
}
