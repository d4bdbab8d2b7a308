// How the bench writes its figures in text: size labels, numbers (– for one not measured) and a
// median with its range. Shared by the run's console table and the README tables.

/** 1000 → "1k"; other sizes as they are. */
export function label(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

/** A figure with `digits` decimals; "–" when it was not measured. */
export function fmt(x: number | undefined | null, digits = 0): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return "–";
  return x.toFixed(digits);
}

/** "median (min–max)". */
export function spreadText(x: {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}): string {
  return `${fmt(x.median)} (${fmt(x.min)}–${fmt(x.max)})`;
}
