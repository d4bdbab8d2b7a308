// Long-lived arrays and records at their exact size. An array grown by push keeps room for 17
// elements (152 bytes) however few it holds; at 10k Services the cache and the evaluations hold
// several such arrays each (docs/memory.md). Empty ones are one shared frozen instance.

const EMPTY: readonly never[] = Object.freeze([]);
const EMPTY_RECORD: Readonly<Record<string, never>> = Object.freeze({});

/** A copy of `items` without spare capacity (the shared empty array when there are none). */
export function exactSize<T>(items: readonly T[]): readonly T[] {
  return items.length === 0 ? EMPTY : items.slice();
}

/** `record`, or the shared empty record when it has no keys. */
export function exactRecord<T>(record: Readonly<Record<string, T>>): Readonly<Record<string, T>> {
  return Object.keys(record).length === 0 ? EMPTY_RECORD : record;
}

/**
 * The program's own instance of a string from a known set (JSON.parse makes a fresh copy of every
 * value; 10k Services say "ClusterIP" 10k times); other values are returned as they are.
 */
export function knownString(value: string, known: ReadonlyMap<string, string>): string {
  return known.get(value) ?? value;
}

/** The lookup `knownString` needs, from the literals themselves. */
export function knownStrings(...values: readonly string[]): ReadonlyMap<string, string> {
  return new Map(values.map((v) => [v, v]));
}
