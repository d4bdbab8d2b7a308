// Gives the JS heap's freed pages back to the OS once work pauses. V8 keeps the pages a collection
// empties in a pool for reuse and releases them only in a memory-reducing collection, which its
// idle heuristics do not start in this process; without one, RSS keeps every peak (ADR 0015).

import { OneShot, type Clock, type Loop } from "./clock.js";

/** Under changes that never pause this long, a trim still comes this long after the first. */
export const MEMORY_TRIM_MAX_DELAY_MS = 60_000;

export interface MemoryTrimReport {
  /** How long the collection held the event loop. */
  readonly ms: number;
  readonly rssBeforeBytes: number;
  readonly rssAfterBytes: number;
}

export interface MemoryTrimDeps {
  readonly clock: Clock;
  /** Quiet this long after work → trim (timings.memoryTrimSeconds); 0 = never. */
  readonly quietMs: number;
  readonly maxDelayMs?: number;
  /** A memory-reducing full collection; undefined: node runs without --expose-gc, so never. */
  readonly collect: (() => void) | undefined;
  readonly rss: () => number;
  /** A monotonic clock for the collection's duration (the injected one may be a fake). */
  readonly elapsedMs: () => number;
  readonly report: (r: MemoryTrimReport) => void;
}

export class MemoryTrim implements Loop {
  private running = false;
  private readonly timer: OneShot;
  /** The latest the pending trim may come: maxDelayMs after the first work it follows. */
  private dueBy: number | undefined;

  constructor(private readonly deps: MemoryTrimDeps) {
    this.timer = new OneShot(deps.clock);
  }

  /** Whether a trim can ever run (a collector and a quiet period). */
  get enabled(): boolean {
    return this.deps.collect !== undefined && this.deps.quietMs > 0;
  }

  start(): void {
    this.running = true;
  }

  stop(): void {
    this.running = false;
    this.timer.stop();
    this.dueBy = undefined;
  }

  /** Work that left garbage behind (an apply): trim once things have been quiet for quietMs. */
  workDone(): void {
    if (!this.running || !this.enabled) return;
    const now = this.deps.clock.now();
    this.dueBy ??= now + (this.deps.maxDelayMs ?? MEMORY_TRIM_MAX_DELAY_MS);
    this.timer.arm(Math.min(this.deps.quietMs, this.dueBy - now), () => {
      this.trim();
    });
  }

  private trim(): void {
    this.dueBy = undefined;
    const collect = this.deps.collect;
    if (!this.running || collect === undefined) return;
    const rssBeforeBytes = this.deps.rss();
    const started = this.deps.elapsedMs();
    collect();
    const ms = this.deps.elapsedMs() - started;
    this.deps.report({ ms, rssBeforeBytes, rssAfterBytes: this.deps.rss() });
  }
}

/**
 * V8's memory-reducing collection ("last resort": full collections until nothing more is freed,
 * then the pooled pages released), if node was started with --expose-gc (the image's entrypoint).
 */
export function memoryReducingCollector(): (() => void) | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  if (typeof gc !== "function") return undefined;
  const options = { type: "major", execution: "sync", flavor: "last-resort" };
  return () => {
    (gc as (o: typeof options) => void)(options);
  };
}
