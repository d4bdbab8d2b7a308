// Per-Service annotations under ANNOTATION_PREFIX: strict parsing into numbers and fixed names.
// Nothing of the raw text survives: every output string is re-serialised from parsed values,
// so no annotation can inject FRR configuration (README, "Annotations").

import type { BgpAttributes } from "./desired-state-types.js";
import { ANNOTATION_PREFIX } from "./policy.js";

export interface AnnotationError {
  /** The full annotation key, e.g. "frr-advertiser.io/communities". */
  readonly key: string;
  /** House-style message: "Service ns/name: annotation <key>=<value> is not ... (want ...)". */
  readonly message: string;
}

/**
 * `optOut` is true only for a valid `advertise: "false"`; it is reported even when other keys
 * are broken, because opting out is checked before annotation validity.
 * `attributes` is undefined when no attribute annotation is present.
 */
export type ServiceAnnotations =
  | {
      readonly ok: true;
      readonly optOut: boolean;
      readonly attributes: BgpAttributes | undefined;
      /** `weighted-ecmp`: overrides advertise.weightedEcmp.enabled for this Service; unset = the config's. */
      readonly weightedEcmp: boolean | undefined;
    }
  | { readonly ok: false; readonly optOut: boolean; readonly errors: readonly AnnotationError[] };

type Field<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

interface Draft {
  advertise?: boolean;
  weightedEcmp?: boolean;
  communities?: readonly string[];
  largeCommunities?: readonly string[];
  localPreference?: number;
  med?: number;
  asPathPrepend?: readonly number[];
}

const UINT16_MAX = 65535;
const UINT32_MAX = 4294967295;
const MAX_PREPENDS = 10;
/** Plain decimal only: no sign, no leading zeros, no hex, ASCII digits (`[0-9]` never matches other scripts). */
const DECIMAL = /^(?:0|[1-9][0-9]{0,9})$/;
/** Items are separated by a comma, by spaces, or by both ("a,b", "a b", "a, b"). */
const LIST_SEPARATOR = / *, *| +/;

/** Well-known communities (RFC 1997, 3765, 7611, 7999, 8326), in FRR's spelling. */
const WELL_KNOWN_COMMUNITIES: ReadonlyMap<string, number> = new Map([
  ["graceful-shutdown", 0xffff0000],
  ["accept-own", 0xffff0001],
  ["blackhole", 0xffff029a],
  ["no-export", 0xffffff01],
  ["no-advertise", 0xffffff02],
  ["local-AS", 0xffffff03],
  ["no-peer", 0xffffff04],
]);
const WELL_KNOWN_BY_LOWER_NAME = new Map(
  [...WELL_KNOWN_COMMUNITIES].map(([name, v]) => [name.toLowerCase(), v]),
);
const WELL_KNOWN_BY_VALUE = new Map([...WELL_KNOWN_COMMUNITIES].map(([name, v]) => [v, name]));

type KeyParser = (value: string, draft: Draft) => string | undefined;

/** Each known key parses its value into the draft and returns a problem phrase on failure. */
const KEY_PARSERS: Readonly<Record<string, KeyParser>> = {
  advertise: (value, draft) => assign(parseAdvertise(value), (v) => (draft.advertise = v)),
  communities: (value, draft) => assign(parseCommunities(value), (v) => (draft.communities = v)),
  "large-communities": (value, draft) =>
    assign(parseLargeCommunities(value), (v) => (draft.largeCommunities = v)),
  "local-preference": (value, draft) =>
    assign(parseUint32(value, "a local-preference"), (v) => (draft.localPreference = v)),
  med: (value, draft) => assign(parseUint32(value, "a MED"), (v) => (draft.med = v)),
  "as-path-prepend": (value, draft) => assign(parseAsPathPrepend(value), (v) => (draft.asPathPrepend = v)),
  "weighted-ecmp": (value, draft) => assign(parseBoolean(value), (v) => (draft.weightedEcmp = v)),
};

function assign<T>(field: Field<T>, store: (value: T) => unknown): string | undefined {
  if (!field.ok) return field.problem;
  store(field.value);
  return undefined;
}

/** Reads every annotation under the prefix; unknown keys are errors so typos never pass silently. */
export function parseServiceAnnotations(service: {
  readonly namespace: string;
  readonly name: string;
  readonly annotations: Readonly<Record<string, string>>;
}): ServiceAnnotations {
  const draft: Draft = {};
  const errors: AnnotationError[] = [];
  const keys = Object.keys(service.annotations)
    .filter((key) => key.startsWith(ANNOTATION_PREFIX))
    .sort();
  for (const key of keys) {
    const value = service.annotations[key] ?? "";
    const problem = parseAnnotation(key.slice(ANNOTATION_PREFIX.length), value, draft);
    if (problem !== undefined) errors.push({ key, message: formatError(service, key, value, problem) });
  }
  const optOut = draft.advertise === false;
  if (errors.length > 0) return { ok: false, optOut, errors };
  return { ok: true, optOut, attributes: toAttributes(draft), weightedEcmp: draft.weightedEcmp };
}

function parseAnnotation(shortKey: string, value: string, draft: Draft): string | undefined {
  const parser = Object.hasOwn(KEY_PARSERS, shortKey) ? KEY_PARSERS[shortKey] : undefined;
  if (parser === undefined)
    return `is not a known key (want one of ${Object.keys(KEY_PARSERS).sort().join(", ")})`;
  return checkText(value) ?? parser(value, draft);
}

/** Generic refusals first, with a message that names the actual hazard. */
function checkText(value: string): string | undefined {
  if (value === "") return "is empty";
  if (/[^\x20-\x7e]/.test(value)) return "contains a control or non-ASCII character";
  if (value.trim() !== value) return "has leading or trailing whitespace";
  return undefined;
}

function formatError(
  service: { namespace: string; name: string },
  key: string,
  value: string,
  problem: string,
): string {
  // JSON quoting shows a newline as \n, so the message itself stays one safe line.
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return `Service ${service.namespace}/${service.name}: annotation ${key}=${JSON.stringify(shown)} ${problem}`;
}

function toAttributes(draft: Draft): BgpAttributes | undefined {
  const present = [
    draft.communities,
    draft.largeCommunities,
    draft.localPreference,
    draft.med,
    draft.asPathPrepend,
  ];
  if (present.every((v) => v === undefined)) return undefined;
  return {
    communities: draft.communities ?? [],
    largeCommunities: draft.largeCommunities ?? [],
    localPreference: draft.localPreference,
    med: draft.med,
    asPathPrepend: draft.asPathPrepend ?? [],
  };
}

function parseAdvertise(value: string): Field<boolean> {
  return parseBoolean(value);
}

function parseBoolean(value: string): Field<boolean> {
  if (value === "true" || value === "false") return { ok: true, value: value === "true" };
  return { ok: false, problem: `is not a boolean (want "true" or "false")` };
}

/** Decimal integer in [min, max], or undefined. */
function parseDecimal(text: string, min: number, max: number): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

function parseUint32(value: string, what: string): Field<number> {
  const n = parseDecimal(value, 0, UINT32_MAX);
  return n === undefined
    ? { ok: false, problem: `is not ${what} (want a decimal 0..${UINT32_MAX})` }
    : { ok: true, value: n };
}

function splitList(value: string): string[] | undefined {
  const items = value.split(LIST_SEPARATOR);
  return items.every((item) => item !== "") ? items : undefined;
}

/** Parses every item; the problem names the first bad one. */
function parseList<T>(
  value: string,
  parseItem: (item: string) => T | undefined,
  problem: string,
): Field<T[]> {
  const items = splitList(value);
  if (items === undefined) return { ok: false, problem: `${problem}: empty list item` };
  const parsed: T[] = [];
  for (const item of items) {
    const result = parseItem(item);
    if (result === undefined) {
      return {
        ok: false,
        problem: items.length === 1 ? problem : `${problem}: item ${JSON.stringify(item)}`,
      };
    }
    parsed.push(result);
  }
  return { ok: true, value: parsed };
}

/** Communities as 32-bit values; well-known numbers print as FRR's names, so both spellings dedupe. */
function parseCommunities(value: string): Field<string[]> {
  const parsed = parseList(value, parseCommunity, "is not a community (want ASN:VALUE)");
  if (!parsed.ok) return parsed;
  const unique = [...new Set(parsed.value)].sort((a, b) => a - b);
  return { ok: true, value: unique.map(formatCommunity) };
}

function parseCommunity(item: string): number | undefined {
  const wellKnown = WELL_KNOWN_BY_LOWER_NAME.get(item.toLowerCase());
  if (wellKnown !== undefined) return wellKnown;
  const parts = item.split(":");
  if (parts.length !== 2) return undefined;
  const [asn, local] = parts.map((part) => parseDecimal(part, 0, UINT16_MAX));
  return asn === undefined || local === undefined ? undefined : asn * 0x10000 + local;
}

function formatCommunity(value: number): string {
  return WELL_KNOWN_BY_VALUE.get(value) ?? `${Math.floor(value / 0x10000)}:${value % 0x10000}`;
}

function parseLargeCommunities(value: string): Field<string[]> {
  const parsed = parseList(
    value,
    parseLargeCommunity,
    `is not a large community (want A:B:C, each 0..${UINT32_MAX})`,
  );
  if (!parsed.ok) return parsed;
  const sorted = parsed.value.sort(compareTuples).map((parts) => parts.join(":"));
  return { ok: true, value: [...new Set(sorted)] };
}

function parseLargeCommunity(item: string): number[] | undefined {
  const parts = item.split(":").map((part) => parseDecimal(part, 0, UINT32_MAX));
  if (parts.length !== 3 || parts.some((part) => part === undefined)) return undefined;
  return parts.filter((part): part is number => part !== undefined);
}

function compareTuples(a: readonly number[], b: readonly number[]): number {
  for (const [i, x] of a.entries()) {
    const diff = x - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Order matters and repeats are the point (prepending one ASN three times), so no sorting or dedupe. */
function parseAsPathPrepend(value: string): Field<number[]> {
  const parsed = parseList(
    value,
    (item) => parseDecimal(item, 1, UINT32_MAX),
    `is not a list of ASNs (want 1..${UINT32_MAX})`,
  );
  if (!parsed.ok) return parsed;
  if (parsed.value.length > MAX_PREPENDS) {
    return { ok: false, problem: `has ${parsed.value.length} ASNs (want at most ${MAX_PREPENDS})` };
  }
  return parsed;
}
