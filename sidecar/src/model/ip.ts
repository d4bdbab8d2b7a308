// IP addresses and CIDRs: strict parsing, canonical text, containment and ordering.
// Accepts only the plain textual forms that mean exactly one address; anything ambiguous is refused.

import type { IpFamily } from "./snapshot.js";

export interface IpAddress {
  readonly family: IpFamily;
  /** The address as an unsigned integer (32 or 128 bits). */
  readonly value: bigint;
  /** Canonical text: dotted decimal, or RFC 5952 (lower case, longest zero run as "::"). */
  readonly text: string;
}

export interface Cidr {
  readonly family: IpFamily;
  /** Network address as an unsigned integer; host bits are zero. */
  readonly network: bigint;
  readonly length: number;
  /** Canonical "network/length". */
  readonly text: string;
}

export type IpResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

type Groups =
  { readonly ok: true; readonly value: number[] } | { readonly ok: false; readonly error: string };

const BITS: Readonly<Record<IpFamily, number>> = { ipv4: 32, ipv6: 128 };
const IPV4_OCTET = /^[0-9]{1,3}$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;
const PREFIX_LENGTH = /^(?:0|[1-9][0-9]{0,2})$/;
const IPV4_MAPPED_PREFIX = 0xffffn;

function fail<T>(error: string): IpResult<T> {
  return { ok: false, error };
}

/** Number of bits in an address of this family. */
export function familyBits(family: IpFamily): number {
  return BITS[family];
}

/**
 * The family of an address or prefix text that is already known to be valid (canonical texts,
 * prefixes this program made): only IPv6 has colons. Not a validation.
 */
export function familyOfText(text: string): IpFamily {
  return text.includes(":") ? "ipv6" : "ipv4";
}

/**
 * Parses one IPv4 or IPv6 address. Refused: leading zeros in IPv4 octets (octal or decimal?),
 * zones ("%eth0"), brackets, whitespace, IPv4-mapped IPv6 ("::ffff:10.0.0.1": which family?),
 * and the short IPv4 forms ("10.1", "0x0a.0.0.1") that inet_aton would accept.
 */
export function parseIp(text: string): IpResult<IpAddress> {
  if (text.includes("%")) return fail("zone identifiers are not allowed");
  if (!/^[0-9a-fA-F:.]{2,45}$/.test(text)) return fail("want a plain IPv4 or IPv6 address");
  return familyOfText(text) === "ipv6" ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): IpResult<IpAddress> {
  const octets = parseIpv4Octets(text);
  if (!octets.ok) return octets;
  const value = octets.value.reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
  return { ok: true, value: { family: "ipv4", value, text: formatIp("ipv4", value) } };
}

function parseIpv4Octets(text: string): Groups {
  const parts = text.split(".");
  if (parts.length !== 4) return { ok: false, error: "want four decimal octets a.b.c.d" };
  const octets: number[] = [];
  for (const part of parts) {
    if (!IPV4_OCTET.test(part)) return { ok: false, error: `octet "${part}" is not 0..255` };
    if (part.length > 1 && part.startsWith("0")) {
      return { ok: false, error: `octet "${part}" has a leading zero, ambiguous between octal and decimal` };
    }
    const octet = Number(part);
    if (octet > 255) return { ok: false, error: `octet "${part}" is not 0..255` };
    octets.push(octet);
  }
  return { ok: true, value: octets };
}

function parseIpv6(text: string): IpResult<IpAddress> {
  const groups = parseIpv6Groups(text);
  if (!groups.ok) return groups;
  const value = groups.value.reduce((acc, group) => (acc << 16n) | BigInt(group), 0n);
  if (value >> 32n === IPV4_MAPPED_PREFIX) {
    return fail("IPv4-mapped IPv6 addresses are ambiguous (write the IPv4 address)");
  }
  return { ok: true, value: { family: "ipv6", value, text: formatIp("ipv6", value) } };
}

/** Splits at the (at most one) "::" and expands it to the missing zero groups. */
function parseIpv6Groups(text: string): Groups {
  const halves = text.split("::");
  if (halves.length > 2) return { ok: false, error: `"::" may appear only once` };
  const compressed = halves.length === 2;
  const head = parseGroupList(halves[0] ?? "", !compressed);
  const tail = parseGroupList(halves[1] ?? "", true);
  if (!head.ok) return head;
  if (!tail.ok) return tail;
  const missing = 8 - head.value.length - tail.value.length;
  if (compressed ? missing < 1 : missing !== 0) return { ok: false, error: "want eight 16-bit groups" };
  return { ok: true, value: [...head.value, ...new Array<number>(missing).fill(0), ...tail.value] };
}

/** "a:b:c" → groups; a dotted IPv4 tail (RFC 4291 mixed notation) counts as two groups. */
function parseGroupList(text: string, ipv4TailAllowed: boolean): Groups {
  if (text === "") return { ok: true, value: [] };
  const items = text.split(":");
  const groups: number[] = [];
  for (const [i, item] of items.entries()) {
    if (item.includes(".") && ipv4TailAllowed && i === items.length - 1) {
      const octets = parseIpv4Octets(item);
      if (!octets.ok) return octets;
      const [a = 0, b = 0, c = 0, d = 0] = octets.value;
      groups.push((a << 8) | b, (c << 8) | d);
    } else if (IPV6_GROUP.test(item)) {
      groups.push(Number.parseInt(item, 16));
    } else {
      return { ok: false, error: `group "${item}" is not 1 to 4 hex digits` };
    }
  }
  return { ok: true, value: groups };
}

/** Canonical text for an address value: dotted decimal, or RFC 5952 for IPv6. */
export function formatIp(family: IpFamily, value: bigint): string {
  if (family === "ipv4") {
    return [24n, 16n, 8n, 0n].map((shift) => ((value >> shift) & 0xffn).toString()).join(".");
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  const run = longestZeroRun(groups);
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(":");
  if (run.length < 2) return hex(groups);
  return `${hex(groups.slice(0, run.start))}::${hex(groups.slice(run.start + run.length))}`;
}

/** RFC 5952 §4.2: the longest run of zero groups; the first one on a tie. */
function longestZeroRun(groups: readonly number[]): { start: number; length: number } {
  let best = { start: 0, length: 0 };
  let start = -1;
  for (const [i, group] of [...groups, 1].entries()) {
    if (group === 0 && start < 0) start = i;
    if (group !== 0 && start >= 0) {
      if (i - start > best.length) best = { start, length: i - start };
      start = -1;
    }
  }
  return best;
}

/** Canonical text of a valid address, or undefined. */
export function canonicalIp(text: string): string | undefined {
  const parsed = parseIp(text);
  return parsed.ok ? parsed.value.text : undefined;
}

/** The single-address prefix: "10.0.0.7/32" or "fd00::7/128". */
export function hostPrefix(address: IpAddress): string {
  return hostPrefixOfText(address.text, address.family);
}

function hostPrefixOfText(text: string, family: IpFamily): string {
  return `${text}/${familyBits(family)}`;
}

/** The host prefixes of canonical address texts (as IpAddress.text gives them), one by one. */
export function* hostPrefixesOf(
  addresses: Iterable<string>,
): Generator<{ prefix: string; family: IpFamily }> {
  for (const text of addresses) {
    const family = familyOfText(text);
    yield { prefix: hostPrefixOfText(text, family), family };
  }
}

/**
 * Parses "network/length". Host bits set ("10.0.0.1/24") are refused by default because the
 * intent is unclear; "mask" drops them, the reading config/ already applies to allowed CIDRs.
 */
export function parseCidr(text: string, hostBits: "reject" | "mask" = "reject"): IpResult<Cidr> {
  const parts = text.split("/");
  const [addressText = "", lengthText = ""] = parts;
  if (parts.length !== 2) return fail("want address/length");
  const address = parseIp(addressText);
  if (!address.ok) return address;
  const bits = familyBits(address.value.family);
  const length = Number(lengthText);
  if (!PREFIX_LENGTH.test(lengthText) || length > bits)
    return fail(`prefix length "${lengthText}" is not 0..${bits}`);
  const hostMask = (1n << BigInt(bits - length)) - 1n;
  const network = address.value.value & ~hostMask;
  if (network !== address.value.value && hostBits === "reject") {
    return fail(`host bits are set (want ${formatIp(address.value.family, network)}/${length})`);
  }
  const family = address.value.family;
  return { ok: true, value: { family, network, length, text: `${formatIp(family, network)}/${length}` } };
}

/** A bare address becomes its host prefix (/32 or /128); anything with "/" is a CIDR. */
export function parseIpOrCidr(text: string, hostBits: "reject" | "mask" = "reject"): IpResult<Cidr> {
  if (text.includes("/")) return parseCidr(text, hostBits);
  const address = parseIp(text);
  if (!address.ok) return address;
  return { ok: true, value: hostCidr(address.value) };
}

function hostCidr(address: IpAddress): Cidr {
  const length = familyBits(address.family);
  return { family: address.family, network: address.value, length, text: `${address.text}/${length}` };
}

/** True when the address lies inside the CIDR (never across families). */
export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.family !== address.family) return false;
  const shift = BigInt(familyBits(cidr.family) - cidr.length);
  return address.value >> shift === cidr.network >> shift;
}

/** Sort order for addresses: IPv4 before IPv6, then numerically. */
export function compareIps(a: IpAddress, b: IpAddress): number {
  if (a.family !== b.family) return a.family === "ipv4" ? -1 : 1;
  if (a.value === b.value) return 0;
  return a.value < b.value ? -1 : 1;
}
