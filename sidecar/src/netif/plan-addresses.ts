// Plans the host addresses (/32, /128) on the service interface: what to add, what to remove, and
// which addresses the advertiser owns afterwards. Pure. Ownership is what keeps us from ever
// deleting an address someone else put there, even across our own restarts.

import {
  cidrContains,
  compareIps,
  parseIp,
  parseIpOrCidr,
  type IpAddress,
  type IpResult,
} from "../model/ip.js";

/** "add" and "remove" let the caller order steps around FRR (add before announcing, remove after withdrawing). */
export type AddressPhase = "add" | "remove" | "all";

/** Excluded IPs (never added, never removed): a list of IPs/CIDRs, or a predicate over canonical addresses. */
export type ExcludedAddresses = readonly string[] | ((address: string) => boolean);

export interface AddressPlanInput {
  /** Addresses that should be on the interface. */
  readonly desired: Iterable<string>;
  /** Host addresses on the interface now. */
  readonly present: Iterable<string>;
  /** Addresses we added earlier (from memory or the state file). */
  readonly owned: Iterable<string>;
  readonly excluded?: ExcludedAddresses;
  /** Default "all". */
  readonly phase?: AddressPhase;
  /** Parses the texts; pass a long-lived one to reuse its memo across plans. */
  readonly parser?: AddressParser;
}

export interface AddressPlan {
  /** desired − present − excluded, sorted (IPv4 first, then numerically). */
  readonly add: readonly string[];
  /** (owned ∩ present) − desired − excluded, sorted. */
  readonly remove: readonly string[];
  /** The owned set once the plan has been carried out, sorted. */
  readonly owned: readonly string[];
}

/**
 * Plans one reconcile step. Rules, and why:
 * - Only owned addresses are ever removed: a desired address that was already present when we
 *   first saw it belongs to someone else and stays un-owned, so it survives its service going away.
 * - Excluded addresses are neither added nor removed. An owned one stays owned (we did add it), so
 *   it is cleaned up once it is no longer excluded.
 * - An owned address that vanished from the interface is forgotten, even if desired: if we add it
 *   again it becomes ours again; if we cannot (excluded), a later foreign copy must not look like ours.
 * Throws on an input that is not an IP address (a caller bug, never a reason to guess).
 */
export function planAddresses(input: AddressPlanInput): AddressPlan {
  const parser = input.parser ?? new AddressParser();
  const desired = canonicalMap(input.desired, "desired", parser);
  const present = canonicalMap(input.present, "present", parser);
  const owned = canonicalMap(input.owned, "owned", parser);
  const isExcluded = excludedPredicate(input.excluded ?? []);
  const phase = input.phase ?? "all";

  const add =
    phase === "remove" ? [] : [...desired.values()].filter((a) => !present.has(a.text) && !isExcluded(a));
  const remove =
    phase === "add"
      ? []
      : [...owned.values()].filter((a) => present.has(a.text) && !desired.has(a.text) && !isExcluded(a));
  const removed = new Set(remove.map((a) => a.text));
  const kept = [...owned.values()].filter((a) => present.has(a.text) && !removed.has(a.text));
  // kept ⊆ present and add ∩ present = ∅: the union has no duplicates.
  return { add: sortedTexts(add), remove: sortedTexts(remove), owned: sortedTexts([...kept, ...add]) };
}

/** Sorted canonical texts (IPv4 before IPv6, numerically): the order batches and state files use. */
export function sortAddresses(addresses: Iterable<string>, parser = new AddressParser()): string[] {
  return sortedTexts([...canonicalMap(addresses, "address", parser).values()]);
}

/** Compiles the excluded list once; entries are IPs or CIDRs (host bits masked: wider is safer). */
export function excludedPredicate(excluded: ExcludedAddresses): (address: IpAddress) => boolean {
  if (typeof excluded === "function") return (address) => excluded(address.text);
  const cidrs = excluded.map((entry) => {
    const parsed = parseIpOrCidr(entry, "mask");
    if (!parsed.ok) throw new Error(`excluded entry "${entry}" is not an IP or CIDR: ${parsed.error}`);
    return parsed.value;
  });
  return (address) => cidrs.some((cidr) => cidrContains(cidr, address));
}

/**
 * parseIp with a bounded memo (results are immutable): a plan at 10k Services parses the same
 * ~30k texts every time. The AddressReconciler keeps one for its lifetime.
 */
export class AddressParser {
  private static readonly MAX = 200_000;
  private readonly memo = new Map<string, IpAddress>();

  parse(text: string): IpResult<IpAddress> {
    const hit = this.memo.get(text);
    if (hit !== undefined) return { ok: true, value: hit };
    const parsed = parseIp(text);
    if (parsed.ok) {
      if (this.memo.size >= AddressParser.MAX) this.memo.clear();
      this.memo.set(text, parsed.value);
    }
    return parsed;
  }
}

function canonicalMap(values: Iterable<string>, what: string, parser: AddressParser): Map<string, IpAddress> {
  const map = new Map<string, IpAddress>();
  for (const value of values) {
    const parsed = parser.parse(value);
    if (!parsed.ok) throw new Error(`${what} address "${value}" is not an IP address: ${parsed.error}`);
    map.set(parsed.value.text, parsed.value);
  }
  return map;
}

function sortedTexts(addresses: readonly IpAddress[]): string[] {
  return [...addresses].sort(compareIps).map((a) => a.text);
}

/** True when the text is already an address in canonical form (what list() and the planner produce). */
export function isCanonicalAddress(text: string): boolean {
  const parsed = parseIp(text);
  return parsed.ok && parsed.value.text === text;
}
