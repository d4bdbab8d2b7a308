// Prefix-list entries and sequence numbers. Sequence numbers are derived from the content, not
// from positions, so adding or removing one prefix changes one line (frr-reload spawns a vtysh per
// removed line; renumbering would rewrite the whole list).

import type { IpFamily } from "../model/snapshot.js";
import { familyBits, parseIpOrCidr, type Cidr } from "../model/ip.js";
import { fnv1a64Hex } from "../model/fnv.js";
import { ContextInvariantError } from "./guard.js";
import type { PrefixListEntry } from "./context-types.js";

const SEQ_MAX = 4294967295;
/** Connected route-map: attribute entries live in [first, last]; the plain entry comes after. */
export const ATTRIBUTE_ENTRY_SEQ = { first: 1000, last: 60999 } as const;
export const PLAIN_ENTRY_SEQ = 65000;

function parseAll(texts: readonly string[], family: IpFamily, what: string): Cidr[] {
  const out = new Map<string, Cidr>();
  for (const text of texts) {
    const parsed = parseIpOrCidr(text, "mask");
    if (!parsed.ok) throw new ContextInvariantError(`${what} ${JSON.stringify(text)}: ${parsed.error}`);
    if (parsed.value.family === family) out.set(parsed.value.text, parsed.value);
  }
  return [...out.values()].sort((a, b) =>
    a.network === b.network ? a.length - b.length : a.network < b.network ? -1 : 1,
  );
}

/**
 * The static outbound filter of one family: excluded IPs denied first, then each allowed CIDR's
 * host routes (/32, /128) permitted. Host-length entries carry no ge/le: FRR 8.4.4 accepts
 * `ge 32` on a /32, but other releases refuse it ("make sure: len < ge-value <= le-value").
 */
export function allowedEntries(
  family: IpFamily,
  allowedCidrs: readonly string[],
  excludedIps: readonly string[],
): PrefixListEntry[] {
  const bits = familyBits(family);
  const allowed = parseAll(allowedCidrs, family, "allowed CIDR");
  if (allowed.length === 0) return [{ seq: 10, line: "deny any" }];
  const lines = [
    ...parseAll(excludedIps, family, "excluded IP").map((c) =>
      c.length === bits ? `deny ${c.text}` : `deny ${c.text} le ${bits}`,
    ),
    ...allowed.map((c) => (c.length === bits ? `permit ${c.text}` : `permit ${c.text} ge ${bits}`)),
  ];
  return lines.map((line, i) => ({ seq: (i + 1) * 10, line }));
}

/**
 * One `permit P` per host prefix. IPv4: seq = the address as a number (unique by construction);
 * IPv6: seq from a hash of the prefix. Collisions (and 0) move to the next free number, visiting
 * prefixes in the given (sorted) order, so the result depends only on the set of prefixes.
 */
export function hostPrefixEntries(family: IpFamily, prefixes: readonly string[]): PrefixListEntry[] {
  const taken = new Set<number>();
  const entries = prefixes.map((prefix) => {
    const seq = freeSeq(candidateSeq(family, prefix), taken, 1, SEQ_MAX);
    taken.add(seq);
    return { seq, line: `permit ${prefix}` };
  });
  return entries.sort((a, b) => a.seq - b.seq);
}

function candidateSeq(family: IpFamily, prefix: string): number {
  if (family === "ipv4") {
    const parsed = parseIpOrCidr(prefix);
    if (!parsed.ok) throw new ContextInvariantError(`prefix ${JSON.stringify(prefix)}: ${parsed.error}`);
    return Number(parsed.value.network);
  }
  return hash32(prefix);
}

/** Route-map entry number for an attribute set: from its name, so other entries keep theirs. */
export function attributeEntrySeq(name: string, taken: Set<number>): number {
  const { first, last } = ATTRIBUTE_ENTRY_SEQ;
  const seq = freeSeq(first + (hash32(name) % (last - first + 1)), taken, first, last);
  taken.add(seq);
  return seq;
}

function hash32(text: string): number {
  return Number.parseInt(fnv1a64Hex(text).slice(8), 16);
}

function freeSeq(candidate: number, taken: ReadonlySet<number>, min: number, max: number): number {
  const span = max - min + 1;
  let seq = candidate < min || candidate > max ? min + (candidate % span) : candidate;
  for (let tries = 0; tries < span; tries += 1) {
    if (!taken.has(seq)) return seq;
    seq = seq === max ? min : seq + 1;
  }
  throw new ContextInvariantError(`no free sequence number in ${min}..${max}`);
}
