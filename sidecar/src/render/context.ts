// Builds the template context (contract v1) from the config and the desired state. Pure.
// All decisions and formatting happen here, so templates need nothing but {{#each}} and {{#if}}.

import { neighborId } from "../model/neighbors.js";
import type { Config, Neighbor } from "../config/load-config.js";
import type { AdvertisePolicy } from "../model/policy.js";
import type { AdvertisedPrefix, AttributeSet, DesiredState } from "../model/desired-state-types.js";
import type { IpFamily } from "../model/snapshot.js";
import { compareIps, parseIp } from "../model/ip.js";
import type {
  AdvertisedPrefixContext,
  AttributeSetContext,
  ConnectedRouteMapEntry,
  FamilyContext,
  NeighborContext,
  PrefixList,
  TemplateContext,
} from "./context-types.js";
import { CONTEXT_VERSION } from "./context-types.js";
import { ContextInvariantError, SHAPE, checked, checkedInt } from "./guard.js";
import * as names from "./names.js";
import { PLAIN_ENTRY_SEQ, allowedEntries, attributeEntrySeq, hostPrefixEntries } from "./prefix-lists.js";
import { formatSetLines } from "./set-lines.js";

/** The state with nothing to advertise: what the trial render uses. */
export const EMPTY_DESIRED_STATE: DesiredState = Object.freeze({
  prefixes: [],
  attributeSets: [],
  decisions: [],
  problems: [],
});

/** The part of the Config the context reads (a whole Config fits); tests build just this. */
export interface RenderConfig {
  readonly bgp: Config["bgp"];
  readonly mode: Config["mode"];
  readonly modeReason: string;
  readonly interface: string;
  readonly policy: Pick<AdvertisePolicy, "allowedCidrs" | "excludedIps">;
  readonly frr: Pick<Config["frr"], "logLevel">;
}

export function toTemplateContext(config: RenderConfig, state: DesiredState): TemplateContext {
  const enabled = new Set<IpFamily>(config.bgp.families);
  // The model decided which neighbours this node peers with (state.neighbors); all without a node.
  const forThisNode = state.neighbors === undefined ? undefined : new Set(state.neighbors);
  const neighbors = toNeighbors(
    config.bgp.neighbors.filter((n) => forThisNode === undefined || forThisNode.has(neighborId(n))),
    enabled,
  );
  const setLines = new Map(
    state.attributeSets.map((s) => [checked(s.name, SHAPE.name, "attribute set name"), setLinesOf(s)]),
  );
  const byFamily = groupByFamily(state.prefixes);
  const build = (family: IpFamily): FamilyContext =>
    toFamily({
      family,
      config,
      enabled: enabled.has(family),
      prefixes: byFamily[family],
      neighbors,
      setLines,
    });
  const ipv4 = build("ipv4");
  const ipv6 = build("ipv6");
  const families = [ipv4, ipv6].filter((f) => f.enabled);
  const attributeSets = config.mode === "network" ? usedAttributeSets(families, setLines) : [];
  return {
    version: CONTEXT_VERSION,
    hostname: checked(config.bgp.hostname, SHAPE.hostname, "hostname"),
    // FRR prints `log stdout` without a level for its default, so the file matches the running config.
    logLevel: config.frr.logLevel === "debugging" ? "" : config.frr.logLevel,
    asn: checkedInt(config.bgp.asn, 1, 4294967295, "ASN"),
    routerId: config.bgp.routerId === undefined ? "" : canonicalAddress(config.bgp.routerId, "router-id"),
    gracefulRestart: config.bgp.gracefulRestart,
    gracefulShutdown: state.gracefulDrain !== undefined,
    mode: config.mode,
    modeReason: checked(config.modeReason, SHAPE.singleLine, "mode reason"),
    isNetworkMode: config.mode === "network",
    isConnectedMode: config.mode === "connected",
    interface: checked(config.interface, SHAPE.interfaceName, "interface"),
    importRouteMap: names.IMPORT_ROUTE_MAP,
    neighbors,
    families,
    ipv4,
    ipv6,
    attributeSets,
    counts: {
      prefixes: families.reduce((n, f) => n + f.prefixes.length, 0),
      ipv4Prefixes: ipv4.enabled ? ipv4.prefixes.length : 0,
      ipv6Prefixes: ipv6.enabled ? ipv6.prefixes.length : 0,
      attributeSets: new Set(
        families.flatMap((f) => f.prefixes.map((p) => p.attributeSet).filter((s) => s !== "")),
      ).size,
      neighbors: neighbors.length,
    },
  };
}

function setLinesOf(set: AttributeSet): readonly string[] {
  return formatSetLines(set.attributes);
}

function groupByFamily(prefixes: readonly AdvertisedPrefix[]): Record<IpFamily, AdvertisedPrefix[]> {
  const out: Record<IpFamily, AdvertisedPrefix[]> = { ipv4: [], ipv6: [] };
  for (const p of prefixes) out[p.family].push(p);
  return out;
}

interface FamilyInput {
  readonly family: IpFamily;
  readonly config: RenderConfig;
  readonly enabled: boolean;
  readonly prefixes: readonly AdvertisedPrefix[];
  readonly neighbors: readonly NeighborContext[];
  readonly setLines: ReadonlyMap<string, readonly string[]>;
}

function toFamily(input: FamilyInput): FamilyContext {
  const { family, config } = input;
  const isNetwork = config.mode === "network";
  const prefixes = input.prefixes.map((p): AdvertisedPrefixContext => {
    const attributeSet = p.attributeSet ?? "";
    if (attributeSet !== "" && !input.setLines.has(attributeSet)) {
      throw new ContextInvariantError(`prefix ${p.prefix} names unknown attribute set ${attributeSet}`);
    }
    const prefix = checked(p.prefix, SHAPE.hostPrefix, "prefix");
    return { prefix, routeMap: isNetwork ? attributeSet : "", attributeSet };
  });
  const allowedPrefixList: PrefixList = {
    name: names.allowedPrefixListName(family),
    entries: allowedEntries(family, config.policy.allowedCidrs, config.policy.excludedIps),
  };
  const connected = isNetwork
    ? { lists: [], entries: [] }
    : connectedPolicy(family, prefixes, input.setLines);
  return {
    enabled: input.enabled,
    afi: family,
    ipWord: family === "ipv4" ? "ip" : "ipv6",
    prefixes,
    neighbors: input.neighbors.filter((n) => n[family]).map((n) => ({ id: n.id })),
    importRouteMap: names.IMPORT_ROUTE_MAP,
    exportRouteMap: names.exportRouteMapName(family),
    allowedPrefixList,
    attributePrefixLists: connected.lists,
    connectedRouteMap: {
      name: names.connectedRouteMapName(family),
      entries: isNetwork
        ? []
        : [...connected.entries, { seq: PLAIN_ENTRY_SEQ, prefixList: allowedPrefixList.name, sets: [] }],
    },
  };
}

/**
 * Connected mode: one prefix-list and one route-map entry per attribute set present in this
 * family. Prefixes without attributes need nothing: the plain entry (interface + allowed CIDRs)
 * covers them, so they come and go without any configuration change.
 */
function connectedPolicy(
  family: IpFamily,
  prefixes: readonly AdvertisedPrefixContext[],
  setLines: ReadonlyMap<string, readonly string[]>,
): { lists: PrefixList[]; entries: ConnectedRouteMapEntry[] } {
  const members = new Map<string, string[]>();
  for (const p of prefixes) {
    if (p.attributeSet === "") continue;
    const list = members.get(p.attributeSet);
    if (list === undefined) members.set(p.attributeSet, [p.prefix]);
    else list.push(p.prefix);
  }
  const taken = new Set<number>();
  const lists: PrefixList[] = [];
  const entries: ConnectedRouteMapEntry[] = [];
  for (const set of [...members.keys()].sort()) {
    const name = names.attributePrefixListName(set, family);
    lists.push({ name, entries: hostPrefixEntries(family, members.get(set) ?? []) });
    entries.push({ seq: attributeEntrySeq(set, taken), prefixList: name, sets: setLines.get(set) ?? [] });
  }
  return { lists, entries: entries.sort((a, b) => a.seq - b.seq) };
}

function usedAttributeSets(
  families: readonly FamilyContext[],
  setLines: ReadonlyMap<string, readonly string[]>,
): AttributeSetContext[] {
  const used = new Set(families.flatMap((f) => f.prefixes.map((p) => p.routeMap)).filter((n) => n !== ""));
  return [...used].sort().map((name) => ({ name, sets: setLines.get(name) ?? [] }));
}

function toNeighbors(list: readonly Neighbor[], enabled: ReadonlySet<IpFamily>): NeighborContext[] {
  const out = list.map((n) => toNeighbor(n, enabled));
  return out.sort(compareNeighbors);
}

function toNeighbor(n: Neighbor, enabled: ReadonlySet<IpFamily>): NeighborContext {
  const address = n.address === undefined ? "" : canonicalAddress(n.address, "neighbor address");
  const iface =
    n.interface === undefined ? "" : checked(n.interface, SHAPE.interfaceName, "neighbor interface");
  const wants = (f: IpFamily): boolean => enabled.has(f) && n.families.includes(f);
  return {
    id: iface !== "" ? iface : address,
    isUnnumbered: iface !== "",
    address,
    interface: iface,
    remoteAs:
      typeof n.remoteAs === "number" ? checkedInt(n.remoteAs, 1, 4294967295, "remote-as") : n.remoteAs,
    description: n.description === undefined ? "" : checked(n.description, SHAPE.description, "description"),
    bfd: n.bfd,
    gracefulRestart: n.gracefulRestart,
    password: n.password === undefined ? "" : checked(n.password, SHAPE.password, "password"),
    ebgpMultihop: n.ebgpMultihop === undefined ? "" : checkedInt(n.ebgpMultihop, 1, 255, "ebgp-multihop"),
    timers:
      n.timers === undefined
        ? ""
        : `${checkedInt(n.timers.keepalive, 0, 65535, "keepalive")} ${checkedInt(n.timers.hold, 0, 65535, "hold")}`,
    ipv4: wants("ipv4"),
    ipv6: wants("ipv6"),
  };
}

/** Unnumbered first (by interface name), then numbered by address, IPv4 before IPv6. */
function compareNeighbors(a: NeighborContext, b: NeighborContext): number {
  if (a.isUnnumbered !== b.isUnnumbered) return a.isUnnumbered ? -1 : 1;
  if (a.isUnnumbered) return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  const pa = parseIp(a.address);
  const pb = parseIp(b.address);
  return pa.ok && pb.ok ? compareIps(pa.value, pb.value) : 0;
}

/** FRR prints addresses canonically (lower-case, RFC 5952); the file must match or every reload diffs. */
function canonicalAddress(text: string, what: string): string {
  const parsed = parseIp(text);
  if (!parsed.ok) throw new ContextInvariantError(`${what} ${JSON.stringify(text)}: ${parsed.error}`);
  return parsed.value.text;
}
