// Small statistics helpers: nearest-rank percentiles over latency samples (ms).

export interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
  /** Samples that never resolved within the timeout (not included in the percentiles). */
  readonly timeouts: number;
}

/** Nearest-rank percentile (p in 0..100) of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? NaN;
}

export function summarize(samples: readonly (number | undefined)[]): Summary {
  const ok = samples.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  const mean = ok.length === 0 ? NaN : ok.reduce((a, b) => a + b, 0) / ok.length;
  return {
    n: ok.length,
    p50: round(percentile(ok, 50)),
    p90: round(percentile(ok, 90)),
    p99: round(percentile(ok, 99)),
    max: round(ok.at(-1) ?? NaN),
    mean: round(mean),
    timeouts: samples.length - ok.length,
  };
}

export function median(xs: readonly number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

export function round(x: number, digits = 1): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Deterministic PRNG (mulberry32) so runs pick the same services. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
