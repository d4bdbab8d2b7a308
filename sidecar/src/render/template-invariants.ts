// PURE: the properties every rendered frr.conf must have whatever its templates say (used by
// `frr-advertiser test-templates`): advertised prefixes are configured, the export policy keeps to
// advertise.allowedCidrs / excludedIps (FRR's route-map and prefix-list rules evaluated
// statically), and the file is complete enough that frr-reload.py keeps the BGP sessions.

import { cidrContains, familyBits, formatIp, parseIp, parseIpOrCidr, type Cidr } from "../model/ip.js";
import type { IpFamily } from "../model/snapshot.js";

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

// ---- the parsed file ------------------------------------------------------------------------------

interface PrefixListEntry {
  readonly seq: number;
  readonly action: "permit" | "deny";
  readonly prefix: Cidr;
  readonly ge: number | undefined;
  readonly le: number | undefined;
  readonly text: string;
}

interface RouteMapEntry {
  readonly seq: number;
  readonly action: "permit" | "deny";
  readonly matches: string[];
  call: string | undefined;
  /** undefined: exit after a permit; "next"; or the sequence number to go to. */
  onMatch: "next" | number | undefined;
}

interface AddressFamily {
  readonly networks: Map<string, string | undefined>;
  /** `redistribute connected [route-map X]`: the route-map name, "" when none; absent: not there. */
  redistributeConnected: string | undefined;
  readonly neighborLines: string[];
}

export interface ParsedFrrConf {
  readonly prefixLists: Map<string, PrefixListEntry[]>;
  readonly routeMaps: Map<string, RouteMapEntry[]>;
  readonly routers: string[];
  /** Router-level `neighbor …` lines of `router bgp` (the first one), without the word neighbor. */
  readonly neighborLines: string[];
  readonly families: Map<IpFamily, AddressFamily>;
  /** Lines this parser could not place; reported only when they matter. */
  readonly problems: string[];
}

const RM_HEADER = /^route-map (\S+) (permit|deny) (\d+)$/;
const PL_LINE =
  /^(ip|ipv6) prefix-list (\S+) (?:seq (\d+) )?(permit|deny) (\S+)(?: ge (\d+))?(?: le (\d+))?$/;
const AF_HEADER = /^address-family (ipv4|ipv6)(?: unicast)?$/;

const plKey = (word: string, name: string): string => `${word === "ip" ? "ipv4" : "ipv6"} ${name}`;

/**
 * Reads FRR's config by its CLI nodes, not by indentation (FRR does not need indentation either):
 * a route-map entry holds match/set/call/on-match lines until `exit` or a line that belongs to
 * another node; `router bgp` holds neighbours and address-family blocks until `exit`.
 */
export function parseFrrConf(text: string): ParsedFrrConf {
  const out: ParsedFrrConf = {
    prefixLists: new Map(),
    routeMaps: new Map(),
    routers: [],
    neighborLines: [],
    families: new Map(),
    problems: [],
  };
  let node: "top" | "route-map" | "router" | "af" = "top";
  let entry: RouteMapEntry | undefined;
  let entryName = "";
  let af: AddressFamily | undefined;
  let inFirstRouter = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim().replace(/\s+/g, " ");
    if (line === "" || line.startsWith("!")) continue;
    if (node === "route-map" && entry !== undefined) {
      if (/^(match|set|call|on-match|continue|description)( |$)/.test(line)) {
        addToEntry(out, entryName, entry, line);
        continue;
      }
      node = "top";
      if (line === "exit" || line === "end") continue;
    }
    if (node === "af" && af !== undefined) {
      if (line === "exit-address-family" || line === "exit") {
        node = "router";
        continue;
      }
      if (inFirstRouter) addToFamily(af, line);
      continue;
    }
    if (node === "router") {
      const afm = AF_HEADER.exec(line);
      if (afm !== null) {
        const fam = afm[1] as IpFamily;
        af = out.families.get(fam);
        if (af === undefined && inFirstRouter) {
          af = { networks: new Map(), redistributeConnected: undefined, neighborLines: [] };
          out.families.set(fam, af);
        }
        af ??= { networks: new Map(), redistributeConnected: undefined, neighborLines: [] };
        node = "af";
        continue;
      }
      if (line === "exit" || line === "end") {
        node = "top";
        continue;
      }
      if (line.startsWith("neighbor ")) {
        if (inFirstRouter) out.neighborLines.push(line.slice("neighbor ".length));
        continue;
      }
      // Other router-level statements (bgp …, timers …) do not concern the invariants; a
      // top-level statement ends the block (FRR falls back to the parent node the same way).
      if (!/^(route-map|ip |ipv6 |router |bgp route-map)/.test(line)) continue;
      node = "top";
    }
    const rm = RM_HEADER.exec(line);
    if (rm !== null) {
      entry = {
        seq: Number(rm[3]),
        action: rm[2] as "permit" | "deny",
        matches: [],
        call: undefined,
        onMatch: undefined,
      };
      const name = rm[1] ?? "";
      entryName = name;
      const list = out.routeMaps.get(name) ?? [];
      list.push(entry);
      out.routeMaps.set(name, list);
      node = "route-map";
      continue;
    }
    if (/^(ip|ipv6) prefix-list /.test(line)) {
      addPrefixListLine(out, line);
      continue;
    }
    const router = /^router bgp (\S+)(?: (?:vrf|view) \S+)?$/.exec(line);
    if (router !== null) {
      inFirstRouter = out.routers.length === 0 && !/ (vrf|view) /.test(line);
      out.routers.push(line);
      node = "router";
    }
  }
  for (const list of out.routeMaps.values()) list.sort((a, b) => a.seq - b.seq);
  for (const list of out.prefixLists.values()) list.sort((a, b) => a.seq - b.seq);
  return out;
}

function addToEntry(out: ParsedFrrConf, name: string, entry: RouteMapEntry, line: string): void {
  if (line.startsWith("match ")) entry.matches.push(line.slice("match ".length));
  else if (line.startsWith("call ")) entry.call = line.slice("call ".length);
  else if (line === "on-match next" || line === "continue") entry.onMatch = "next";
  else if (/^(on-match goto|continue) \d+$/.test(line)) entry.onMatch = Number(line.split(" ").pop());
  else if (line.startsWith("set ") || line.startsWith("description ")) return;
  else
    out.problems.push(`route-map ${name} ${entry.action} ${String(entry.seq)}: "${line}" is not evaluated`);
}

function addToFamily(af: AddressFamily, line: string): void {
  const net = /^network (\S+)(?: route-map (\S+))?$/.exec(line);
  if (net !== null) {
    const parsed = parseIpOrCidr(net[1] ?? "", "reject");
    af.networks.set(parsed.ok ? parsed.value.text : (net[1] ?? ""), net[2]);
    return;
  }
  const redist = /^redistribute connected(?: route-map (\S+))?$/.exec(line);
  if (redist !== null) {
    af.redistributeConnected = redist[1] ?? "";
    return;
  }
  if (line.startsWith("neighbor ")) af.neighborLines.push(line.slice("neighbor ".length));
}

function addPrefixListLine(out: ParsedFrrConf, line: string): void {
  if (/^(ip|ipv6) prefix-list \S+ description /.test(line)) {
    const key = plKey(line.split(" ")[0] ?? "", line.split(" ")[2] ?? "");
    if (!out.prefixLists.has(key)) out.prefixLists.set(key, []);
    return;
  }
  const m = PL_LINE.exec(line);
  if (m === null) {
    out.problems.push(`prefix-list line not evaluated: "${line}"`);
    return;
  }
  const family: IpFamily = m[1] === "ip" ? "ipv4" : "ipv6";
  const key = plKey(m[1] ?? "", m[2] ?? "");
  const list = out.prefixLists.get(key) ?? [];
  const any = m[5] === "any";
  const prefix = parseIpOrCidr(any ? (family === "ipv4" ? "0.0.0.0/0" : "::/0") : (m[5] ?? ""), "reject");
  if (!prefix.ok || prefix.value.family !== family) {
    out.problems.push(`prefix-list line not evaluated: "${line}"`);
    return;
  }
  // Without `seq`, FRR numbers an entry 5 above the list's highest.
  const seq = m[3] !== undefined ? Number(m[3]) : Math.max(0, ...list.map((e) => e.seq)) + 5;
  list.push({
    seq,
    action: m[4] as "permit" | "deny",
    prefix: prefix.value,
    ge: m[6] !== undefined ? Number(m[6]) : undefined,
    le: any ? familyBits(family) : m[7] !== undefined ? Number(m[7]) : undefined,
    text: line,
  });
  out.prefixLists.set(key, list);
}

// ---- evaluation ------------------------------------------------------------------------------------

/** One way a route can go through a policy, with the assumptions it needed. */
export interface Outcome {
  readonly result: "permit" | "deny";
  /** Why: the entry that decided ("route-map X permit 10", "implicit deny at the end of X"). */
  readonly by: string;
  /** Match clauses assumed true or false on this path because they are not evaluated statically. */
  readonly assumed: readonly string[];
}

/** What the route looks like to a match clause. */
interface Route {
  readonly prefix: Cidr;
  /** Known for redistributed connected routes; undefined: `match interface` can go either way. */
  readonly interface: string | undefined;
}

/** FRR's prefix-list: first matching entry by sequence wins; no match (or no list) denies. */
export function prefixListPermits(conf: ParsedFrrConf, family: IpFamily, name: string, p: Cidr): boolean {
  if (p.family !== family) return false;
  const list = conf.prefixLists.get(`${family} ${name}`);
  if (list === undefined) return false;
  // An existing list without entries permits everything (FRR's prefix_list_apply).
  if (list.length === 0) return true;
  for (const e of list) if (entryMatches(e, p)) return e.action === "permit";
  return false;
}

function entryMatches(e: PrefixListEntry, p: Cidr): boolean {
  if (p.length < e.prefix.length) return false;
  const shift = BigInt(familyBits(p.family) - e.prefix.length);
  if (p.network >> shift !== e.prefix.network >> shift) return false;
  if (e.ge === undefined && e.le === undefined) return p.length === e.prefix.length;
  const lo = e.ge ?? e.prefix.length;
  const hi = e.le ?? familyBits(p.family);
  return p.length >= lo && p.length <= hi;
}

/** undefined: not evaluated statically (the caller branches both ways). */
function matchClause(conf: ParsedFrrConf, clause: string, route: Route): boolean | undefined {
  const pl = /^(ip|ipv6) address prefix-list (\S+)$/.exec(clause);
  if (pl !== null) {
    const family: IpFamily = pl[1] === "ip" ? "ipv4" : "ipv6";
    return prefixListPermits(conf, family, pl[2] ?? "", route.prefix);
  }
  const iface = /^interface (\S+)$/.exec(clause);
  if (iface !== null && route.interface !== undefined) return iface[1] === route.interface;
  return undefined;
}

/** The ways an entry's match clauses (all must match) can go; unknown clauses go both ways. */
function matchBranches(
  conf: ParsedFrrConf,
  e: RouteMapEntry,
  where: string,
  route: Route,
  assumed: readonly string[],
): { matched: boolean; assumed: readonly string[] }[] {
  let branches: { matched: boolean; assumed: readonly string[] }[] = [{ matched: true, assumed }];
  for (const clause of e.matches) {
    const known = matchClause(conf, clause, route);
    branches = branches.flatMap((b) => {
      if (!b.matched) return [b];
      if (known !== undefined) return [{ matched: known, assumed: b.assumed }];
      return [
        { matched: true, assumed: [...b.assumed, `"match ${clause}" (${where}) matches`] },
        { matched: false, assumed: [...b.assumed, `"match ${clause}" (${where}) does not match`] },
      ];
    });
  }
  return branches;
}

const MAX_CALL_DEPTH = 10;

/**
 * Every outcome FRR's route-map can reach for this route: entries by sequence; all match clauses
 * of an entry must match (none: it matches everything); deny ends in deny; permit runs `call`
 * (a deny there denies) and then exits, or goes on after `on-match next|goto`; past the last
 * entry, permit if a permit entry matched, else the implicit deny. A route-map that does not
 * exist denies. Clauses not evaluated statically are tried both ways.
 */
export function evaluateRouteMap(conf: ParsedFrrConf, name: string, route: Route, depth = 0): Outcome[] {
  const entries = conf.routeMaps.get(name);
  if (entries === undefined) return [{ result: "deny", by: `route-map ${name} does not exist`, assumed: [] }];
  if (depth > MAX_CALL_DEPTH)
    return [{ result: "deny", by: `route-map ${name}: call depth over ${MAX_CALL_DEPTH}`, assumed: [] }];
  const outcomes: Outcome[] = [];
  // From entry i on, with the permit entry that matched earlier (on-match) and the assumptions so far.
  const walk = (i: number, permitted: string | undefined, assumed: readonly string[]): void => {
    const e = entries[i];
    if (e === undefined) {
      outcomes.push(
        permitted !== undefined
          ? { result: "permit", by: permitted, assumed }
          : { result: "deny", by: `implicit deny at the end of route-map ${name}`, assumed },
      );
      return;
    }
    const where = `route-map ${name} ${e.action} ${String(e.seq)}`;
    for (const branch of matchBranches(conf, e, where, route, assumed)) {
      if (!branch.matched) {
        walk(i + 1, permitted, branch.assumed);
        continue;
      }
      if (e.action === "deny") {
        outcomes.push({ result: "deny", by: where, assumed: branch.assumed });
        continue;
      }
      const afterCall = (a: readonly string[]): void => {
        const target = e.onMatch;
        if (target === undefined) outcomes.push({ result: "permit", by: where, assumed: a });
        else if (target === "next") walk(i + 1, where, a);
        else {
          const next = entries.findIndex((x) => x.seq >= target && x.seq > e.seq);
          walk(next < 0 ? entries.length : next, where, a);
        }
      };
      if (e.call === undefined) {
        afterCall(branch.assumed);
        continue;
      }
      for (const o of evaluateRouteMap(conf, e.call, route, depth + 1)) {
        const a = [...branch.assumed, ...o.assumed];
        if (o.result === "deny") outcomes.push({ result: "deny", by: `${where}: call ${o.by}`, assumed: a });
        else afterCall(a);
      }
    }
  };
  walk(0, undefined, []);
  return outcomes;
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
    const c = cidr(ex.includes("/") ? ex : `${ex}/${String(familyBits(ex.includes(":") ? "ipv6" : "ipv4"))}`);
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
  const problems: string[] = [];
  const allowed = input.allowedCidrs.map(cidr);
  const groupOf = new Map<string, string>();
  for (const l of conf.neighborLines) {
    const m = /^(\S+) (?:interface )?peer-group (\S+)$/.exec(l);
    if (m !== null) groupOf.set(m[1] ?? "", m[2] ?? "");
  }

  // Complete: frr-reload.py removes whatever the file omits, a BGP session included.
  const router = `router bgp ${input.asn}`;
  if (!conf.routers.includes(router)) {
    problems.push(`incomplete: no "${router}" (found: ${conf.routers.join(", ") || "none"})`);
    return [...problems, ...conf.problems];
  }
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
    if (
      n.isUnnumbered &&
      !conf.neighborLines.some((l) => l === `${n.id} interface` || l.startsWith(`${n.id} interface `))
    )
      problems.push(
        `incomplete: unnumbered neighbour ${n.id} is not configured with "neighbor ${n.id} interface …"`,
      );
    for (const family of input.families) {
      if (!n[family]) continue;
      const af = conf.families.get(family);
      if (af === undefined || neighborSetting(af.neighborLines, groupOf, n.id, /^activate$/) === undefined)
        problems.push(`incomplete: neighbour ${n.id} is not activated in address-family ${family} unicast`);
    }
  }

  // Every advertised prefix is configured: a network line, or permitted by the redistribution filter.
  for (const p of input.prefixes) {
    const af = conf.families.get(p.family);
    const prefix = cidr(p.prefix);
    if (input.mode === "network") {
      const routeMap = af?.networks.get(prefix.text);
      if (af === undefined || !af.networks.has(prefix.text)) {
        problems.push(
          `advertised ${p.prefix} has no "network ${p.prefix}" line in address-family ${p.family} unicast`,
        );
      } else if (routeMap !== undefined) {
        const denied = evaluateRouteMap(conf, routeMap, { prefix, interface: undefined }).filter(
          (o) => o.result === "deny",
        );
        for (const o of denied.slice(0, 1))
          problems.push(`advertised ${p.prefix}: its network route-map ${routeMap} denies it ${explain(o)}`);
      }
    } else if (af?.redistributeConnected === undefined) {
      problems.push(
        `advertised ${p.prefix}: no "redistribute connected" in address-family ${p.family} unicast`,
      );
    } else if (af.redistributeConnected !== "") {
      const denied = evaluateRouteMap(conf, af.redistributeConnected, {
        prefix,
        interface: input.interface,
      }).filter((o) => o.result === "deny");
      for (const o of denied.slice(0, 1))
        problems.push(
          `advertised ${p.prefix}: the redistribution route-map ${af.redistributeConnected} denies it ${explain(o)}`,
        );
    }
  }

  // The export policy of every session, per family; sessions with the same policy are checked once.
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
    for (const { pol, ids: who } of policies.values()) {
      problems.push(...checkExport(conf, pol, who, allowed, input));
    }
  }
  return [...problems, ...conf.problems];
}
