// PURE: FRR's policy objects read from a config text and evaluated statically, as bgpd would:
// prefix-lists (first matching sequence, ge/le, implicit deny) and route-maps (match clauses, deny,
// call, on-match, continue), plus the neighbours' address-family settings that name them.

import { familyBits, parseIpOrCidr, type Cidr } from "../model/ip.js";
import type { IpFamily } from "../model/snapshot.js";

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
export interface Route {
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
