// PURE: the properties every rendered frr.conf must have whatever its templates say (used by
// `frr-advertiser test-templates`): advertised prefixes are configured, the export policy keeps to
// advertise.allowedCidrs / excludedIps (FRR's route-map and prefix-list rules evaluated
// statically), and the file is complete enough that frr-reload.py keeps the BGP sessions.

import {
  cidrContains,
  familyBits,
  familyOfText,
  formatIp,
  parseIp,
  parseIpOrCidr,
  type Cidr,
} from "../model/ip.js";
import type { IpFamily } from "../model/snapshot.js";
import {
  evaluateRouteMap,
  parseFrrConf,
  prefixListPermits,
  type Outcome,
  type ParsedFrrConf,
  type Route,
} from "./frr-policy.js";

/** What the render must satisfy: taken from the config and the model, never from the templates. */
export interface InvariantInput {
  readonly asn: string;
  readonly mode: "network" | "connected";
  /** The interface holding the service addresses (connected mode's `match interface`). */
  readonly interface: string;
  readonly families: readonly IpFamily[];
  readonly allowedCidrs: readonly string[];
  /** Addresses or CIDRs. */
  readonly excludedIps: readonly string[];
  readonly prefixes: readonly { readonly prefix: string; readonly family: IpFamily }[];
  readonly neighbors: readonly {
    readonly id: string;
    readonly isUnnumbered: boolean;
    readonly remoteAs: string;
    readonly ipv4: boolean;
    readonly ipv6: boolean;
  }[];
}

// ---- the invariants ------------------------------------------------------------------------------

/** Prefixes that must not pass the export policy: just outside each allowed CIDR, and far away. */
const FAR_PROBES: Readonly<Record<IpFamily, readonly string[]>> = {
  ipv4: [
    "0.0.0.0/0",
    "1.1.1.1/32",
    "8.8.8.8/32",
    "10.0.0.1/32",
    "100.64.0.1/32",
    "172.16.0.1/32",
    "192.168.0.1/32",
  ],
  ipv6: ["::/0", "2001:4860:4860::8888/128", "2a00::1/128", "fd00::1/128", "fe80::1/128"],
};

function cidr(text: string): Cidr {
  const r = parseIpOrCidr(text, "mask");
  if (!r.ok) throw new Error(`${text}: ${r.error}`);
  return r.value;
}

function hostCidr(family: IpFamily, value: bigint): Cidr {
  return cidr(`${formatIp(family, value)}/${familyBits(family)}`);
}

/** p lies inside c: as long or longer, same leading bits. */
function within(p: Cidr, c: Cidr): boolean {
  if (p.family !== c.family || p.length < c.length) return false;
  const ip = parseIp(formatIp(p.family, p.network));
  return ip.ok && cidrContains(c, ip.value);
}

/** Probe prefixes of a family outside every allowed CIDR, each with why it was chosen. */
export function outsideProbes(family: IpFamily, allowed: readonly Cidr[]): { prefix: Cidr; why: string }[] {
  const bits = familyBits(family);
  const max = (1n << BigInt(bits)) - 1n;
  const probes: { prefix: Cidr; why: string }[] = [];
  for (const c of allowed.filter((a) => a.family === family)) {
    const last = c.network + (1n << BigInt(bits - c.length)) - 1n;
    if (c.network > 0n)
      probes.push({ prefix: hostCidr(family, c.network - 1n), why: `just below ${c.text}` });
    if (last < max) probes.push({ prefix: hostCidr(family, last + 1n), why: `just above ${c.text}` });
  }
  for (const p of FAR_PROBES[family]) probes.push({ prefix: cidr(p), why: "far outside the allowed CIDRs" });
  const seen = new Set<string>();
  return probes.filter((p) => {
    if (seen.has(p.prefix.text) || allowed.some((a) => within(p.prefix, a))) return false;
    seen.add(p.prefix.text);
    return true;
  });
}

function explain(o: Outcome): string {
  return o.assumed.length === 0 ? `by ${o.by}` : `by ${o.by}, if ${o.assumed.join(" and ")}`;
}

interface ExportPolicy {
  readonly family: IpFamily;
  readonly routeMap: string | undefined;
  readonly prefixList: string | undefined;
}

/** Outcomes of a neighbour's outbound policy: its route-map, then its outbound prefix-list. */
function exportOutcomes(conf: ParsedFrrConf, pol: ExportPolicy, p: Cidr): Outcome[] {
  const route: Route = { prefix: p, interface: undefined };
  const viaMap =
    pol.routeMap === undefined
      ? [{ result: "permit" as const, by: "no outbound route-map", assumed: [] }]
      : evaluateRouteMap(conf, pol.routeMap, route);
  if (pol.prefixList === undefined) return viaMap;
  const plOk = prefixListPermits(conf, pol.family, pol.prefixList, p);
  return viaMap.map((o) =>
    o.result === "permit" && !plOk
      ? { result: "deny", by: `prefix-list ${pol.prefixList ?? ""} out`, assumed: o.assumed }
      : o,
  );
}

/** A neighbour's setting, looked up on the neighbour and then on its peer-group. */
function neighborSetting(
  lines: readonly string[],
  groupOf: ReadonlyMap<string, string>,
  id: string,
  re: RegExp,
) {
  for (const who of [id, groupOf.get(id)]) {
    if (who === undefined) continue;
    for (const l of lines) {
      if (!l.startsWith(`${who} `)) continue;
      const m = re.exec(l.slice(who.length + 1));
      if (m !== null) return m;
    }
  }
  return undefined;
}

const LISTED = 4;

/** "a, b, c, d and 3 more". */
function listSome(items: readonly string[]): string {
  const shown = items.slice(0, LISTED).join(", ");
  return items.length > LISTED ? `${shown} and ${String(items.length - LISTED)} more` : shown;
}

/** One session policy against the probes, the excluded IPs and the advertised prefixes. */
function checkExport(
  conf: ParsedFrrConf,
  pol: ExportPolicy,
  neighbors: readonly string[],
  allowed: readonly Cidr[],
  input: InvariantInput,
): string[] {
  const family = pol.family;
  const filters = [
    ...(pol.routeMap === undefined ? [] : [`route-map ${pol.routeMap} out`]),
    ...(pol.prefixList === undefined ? [] : [`prefix-list ${pol.prefixList} out`]),
  ];
  const who = `export policy ${filters.join(" + ") || "(none)"} (${family}, ${neighbors.length > 1 ? "neighbours" : "neighbour"} ${listSome(neighbors)})`;
  if (filters.length === 0) return [`${who}: nothing limits what these sessions are sent`];
  const problems: string[] = [];
  const leaks: { what: string; o: Outcome }[] = [];
  for (const probe of outsideProbes(family, allowed)) {
    const o = exportOutcomes(conf, pol, probe.prefix).find((x) => x.result === "permit");
    if (o !== undefined) leaks.push({ what: `${probe.prefix.text} (${probe.why})`, o });
  }
  if (leaks.length > 0) {
    const first = leaks[0]?.o;
    problems.push(
      `${who} permits prefixes outside advertise.allowedCidrs: ${listSome(leaks.map((l) => l.what))}; ${first === undefined ? "" : explain(first)}`,
    );
  }
  for (const ex of input.excludedIps) {
    const c = cidr(ex.includes("/") ? ex : `${ex}/${String(familyBits(familyOfText(ex)))}`);
    if (c.family !== family) continue;
    const last = c.network + (1n << BigInt(familyBits(family) - c.length)) - 1n;
    for (const h of [...new Set([c.network, last])]) {
      const probe = hostCidr(family, h);
      const o = exportOutcomes(conf, pol, probe).find((x) => x.result === "permit");
      if (o !== undefined)
        problems.push(`${who} permits ${probe.text}, excluded by advertise.excludedIps ${ex}; ${explain(o)}`);
    }
  }
  for (const p of input.prefixes.filter((x) => x.family === family)) {
    const o = exportOutcomes(conf, pol, cidr(p.prefix)).find((x) => x.result === "deny");
    if (o !== undefined) problems.push(`${who} denies the advertised ${p.prefix}; ${explain(o)}`);
  }
  return problems;
}

/** Every way the render breaks an invariant, as one sentence each; [] when it holds them all. */
export function checkInvariants(text: string, input: InvariantInput): string[] {
  const conf = parseFrrConf(text);
  const router = `router bgp ${input.asn}`;
  if (!conf.routers.includes(router))
    return [`incomplete: no "${router}" (found: ${conf.routers.join(", ") || "none"})`, ...conf.problems];
  const groupOf = peerGroups(conf);
  return [
    ...completeness(conf, groupOf, input),
    ...prefixesConfigured(conf, input),
    ...exportPolicies(conf, groupOf, input),
    ...conf.problems,
  ];
}

/** neighbour → its peer-group. */
function peerGroups(conf: ParsedFrrConf): Map<string, string> {
  const groupOf = new Map<string, string>();
  for (const l of conf.neighborLines) {
    const m = /^(\S+) (?:interface )?peer-group (\S+)$/.exec(l);
    if (m !== null) groupOf.set(m[1] ?? "", m[2] ?? "");
  }
  return groupOf;
}

/** Complete: frr-reload.py removes whatever the file omits, a BGP session included. */
function completeness(
  conf: ParsedFrrConf,
  groupOf: ReadonlyMap<string, string>,
  input: InvariantInput,
): string[] {
  const problems: string[] = [];
  for (const n of input.neighbors) {
    const remote = neighborSetting(conf.neighborLines, groupOf, n.id, /^(?:interface )?remote-as (\S+)$/);
    if (remote === undefined)
      problems.push(
        `incomplete: neighbour ${n.id} has no remote-as line (frr-reload.py would remove the session)`,
      );
    else if (remote[1] !== n.remoteAs)
      problems.push(
        `incomplete: neighbour ${n.id} has remote-as ${remote[1] ?? ""}, the config says ${n.remoteAs}`,
      );
    const unnumbered = conf.neighborLines.some(
      (l) => l === `${n.id} interface` || l.startsWith(`${n.id} interface `),
    );
    if (n.isUnnumbered && !unnumbered)
      problems.push(
        `incomplete: unnumbered neighbour ${n.id} is not configured with "neighbor ${n.id} interface …"`,
      );
    for (const family of input.families.filter((f) => n[f])) {
      const af = conf.families.get(family);
      if (af === undefined || neighborSetting(af.neighborLines, groupOf, n.id, /^activate$/) === undefined)
        problems.push(`incomplete: neighbour ${n.id} is not activated in address-family ${family} unicast`);
    }
  }
  return problems;
}

/** Every advertised prefix is configured: a network line, or permitted by the redistribution filter. */
function prefixesConfigured(conf: ParsedFrrConf, input: InvariantInput): string[] {
  const problems: string[] = [];
  for (const p of input.prefixes) {
    const af = conf.families.get(p.family);
    const prefix = cidr(p.prefix);
    if (input.mode === "network") {
      if (af === undefined || !af.networks.has(prefix.text)) {
        problems.push(
          `advertised ${p.prefix} has no "network ${p.prefix}" line in address-family ${p.family} unicast`,
        );
        continue;
      }
      const routeMap = af.networks.get(prefix.text);
      const denied =
        routeMap === undefined ? undefined : firstDeny(conf, routeMap, { prefix, interface: undefined });
      if (denied !== undefined)
        problems.push(
          `advertised ${p.prefix}: its network route-map ${routeMap ?? ""} denies it ${explain(denied)}`,
        );
    } else if (af?.redistributeConnected === undefined) {
      problems.push(
        `advertised ${p.prefix}: no "redistribute connected" in address-family ${p.family} unicast`,
      );
    } else if (af.redistributeConnected !== "") {
      const denied = firstDeny(conf, af.redistributeConnected, { prefix, interface: input.interface });
      if (denied !== undefined)
        problems.push(
          `advertised ${p.prefix}: the redistribution route-map ${af.redistributeConnected} denies it ${explain(denied)}`,
        );
    }
  }
  return problems;
}

function firstDeny(conf: ParsedFrrConf, routeMap: string, route: Route): Outcome | undefined {
  return evaluateRouteMap(conf, routeMap, route).find((o) => o.result === "deny");
}

/** The export policy of every session, per family; sessions with the same policy are checked once. */
function exportPolicies(
  conf: ParsedFrrConf,
  groupOf: ReadonlyMap<string, string>,
  input: InvariantInput,
): string[] {
  const allowed = input.allowedCidrs.map(cidr);
  const problems: string[] = [];
  for (const family of input.families) {
    const af = conf.families.get(family);
    if (af === undefined) continue;
    const ids = new Set<string>();
    for (const l of af.neighborLines) {
      const m = /^(\S+) activate$/.exec(l);
      if (m !== null) ids.add(m[1] ?? "");
    }
    for (const n of input.neighbors) if (n[family]) ids.add(n.id);
    const policies = new Map<string, { pol: ExportPolicy; ids: string[] }>();
    for (const id of [...ids].sort()) {
      const routeMap = neighborSetting(af.neighborLines, groupOf, id, /^route-map (\S+) out$/)?.[1];
      const prefixList = neighborSetting(af.neighborLines, groupOf, id, /^prefix-list (\S+) out$/)?.[1];
      const key = `${routeMap ?? ""} ${prefixList ?? ""}`;
      const known = policies.get(key);
      if (known === undefined) policies.set(key, { pol: { family, routeMap, prefixList }, ids: [id] });
      else known.ids.push(id);
    }
    for (const { pol, ids: who } of policies.values())
      problems.push(...checkExport(conf, pol, who, allowed, input));
  }
  return problems;
}
