// PURE: decides whether two rendered frr.conf texts differ only in BGP `network` lines and the
// route-maps only those lines use and, if so, the batch of vtysh config commands that turns the
// old into the new. Anything else (a route-map a neighbour uses, a neighbour, a template edit)
// returns undefined: the caller uses frr-reload.py. Also learns, from a render, where and how the
// templates place one prefix's network lines, so a prefix change can become commands without
// rendering every prefix again (NetworkShapes).

import type { IpFamily } from "../model/snapshot.js";

/** Where a line sits: the router block and the address-family inside it. */
export interface Placed {
  readonly router: string;
  readonly af: string;
  readonly line: string;
}

/** One top-level route-map entry: `route-map NAME permit|deny SEQ` and its indented lines. */
export interface RouteMapEntry {
  readonly name: string;
  readonly header: string;
  readonly body: readonly string[];
}

/**
 * A config read for deltas: the network statements by place; the route-map entries nothing but
 * network statements names (the attribute sets), by header; and every other line, in order.
 */
export interface ParsedConf {
  readonly other: string;
  readonly networks: ReadonlyMap<string, Placed>;
  readonly routeMaps: ReadonlyMap<string, RouteMapEntry>;
}

const NETWORK_LINE = /^network \S+( route-map \S+)?$/;

/** True for a (trimmed) line that is a BGP network statement a delta can patch. */
export function isNetworkLine(line: string): boolean {
  return NETWORK_LINE.test(line);
}
const ROUTE_MAP_SUFFIX = / route-map (\S+)$/;
const ROUTE_MAP_HEADER = /^route-map (\S+) (permit|deny) \d+$/;

/**
 * The batch that turns `before` into `after`: new route-map entries first (a network statement
 * reads its route-map when it is added), then the network statements (`no` lines first, so a
 * prefix can change its route-map in one batch), then the route-map entries nothing uses any
 * more. [] when equal; undefined when anything else differs, a route-map entry edited in place
 * included (prefixes use it: frr-reload.py and a soft clear handle that).
 */
export function networkDelta(before: ParsedConf, after: ParsedConf): string[] | undefined {
  if (before.other !== after.other) return undefined;
  for (const [header, entry] of after.routeMaps) {
    const old = before.routeMaps.get(header);
    if (old !== undefined && !sameLines(old.body, entry.body)) return undefined;
  }
  const removed = difference(before.networks, after.networks);
  const added = difference(after.networks, before.networks);
  const mapsAdded = [...after.routeMaps.values()].filter((e) => !before.routeMaps.has(e.header));
  const mapsRemoved = [...before.routeMaps.values()].filter((e) => !after.routeMaps.has(e.header));
  return toCommands(removed, added, { added: mapsAdded, removed: mapsRemoved });
}

/** True when both hold the same lines (the order of network statements and route-maps aside). */
export function sameConf(a: ParsedConf, b: ParsedConf): boolean {
  if (a.other !== b.other || a.networks.size !== b.networks.size || a.routeMaps.size !== b.routeMaps.size)
    return false;
  for (const k of a.networks.keys()) if (!b.networks.has(k)) return false;
  for (const [k, e] of a.routeMaps) {
    const other = b.routeMaps.get(k);
    if (other === undefined || !sameLines(e.body, other.body)) return false;
  }
  return true;
}

/**
 * A line of a batch that removes a route-map entry (top-level `no route-map NAME permit|deny N`;
 * toCommands puts them last). Attribute route-maps are added only where they are used (bgpd:
 * only network statements name them), but every daemon that keeps route-maps took a copy from
 * frr.conf when it started: a removal goes to all of them.
 */
export function isRouteMapRemoval(command: string): boolean {
  return command.startsWith("no route-map ");
}

/**
 * Route-map lines are northbound config in FRR: each is a candidate commit of its own, whose cost
 * grows with all the route-map config a daemon holds (≈ 17 ms a line with 200 route-maps, FRR
 * 8.4). Between the markers vtysh sends around a file it reads, a batch's lines commit once.
 */
export function committedOnce(lines: readonly string[]): readonly string[] {
  if (!lines.some((l) => l.startsWith("route-map "))) return lines;
  return ["XFRR_start_configuration", ...lines, "XFRR_end_configuration"];
}

/** The route-map a network statement names; undefined when it names none. */
export function routeMapOf(p: Placed): string | undefined {
  return ROUTE_MAP_SUFFIX.exec(p.line)?.[1];
}

/** How many of these network statements name each route-map. */
export function routeMapUse(networks: Iterable<Placed>): Map<string, number> {
  const use = new Map<string, number>();
  for (const p of networks) {
    const name = routeMapOf(p);
    if (name !== undefined) use.set(name, (use.get(name) ?? 0) + 1);
  }
  return use;
}

/** The map key of a network statement: its place and its whole line. */
export function placedKey(p: Placed): string {
  return `${p.router}\u0000${p.af}\u0000${p.line}`;
}

/**
 * `no network` commands for every network statement FRR runs (`show running-config`) that the
 * drained render lacks: how a drain withdraws what an earlier run of the sidecar left in FRR
 * without frr-reload.py, which would spawn one vtysh per removed line. Only network lines are
 * touched; undefined when the running config cannot be read that way.
 */
export function computeWithdrawal(runningConf: string, drainedConf: string): string[] | undefined {
  const running = parseConf(runningConf);
  const drained = parseConf(drainedConf);
  if (running === undefined || drained === undefined) return undefined;
  const kept = new Set([...drained.networks.values()].map(prefixPlace));
  const removed = [...running.networks.values()].filter((p) => !kept.has(prefixPlace(p)));
  return removed.length === 0 ? [] : toCommands(removed, []);
}

/**
 * Withdraw-and-re-add commands for the given prefixes' network statements in `appliedConf`: the
 * read-back's first repair of a prefix bgpd should announce but does not (bgpd re-evaluates the
 * statement from scratch). One withdrawal batch per prefix — bgpd rejects `no network` for a
 * statement it no longer has, which must not stop the others — then one batch re-adding them all.
 * Prefixes without a statement are skipped.
 */
export function reannounceCommands(
  applied: ParsedConf | undefined,
  prefixes: ReadonlySet<string>,
): { readonly withdraw: string[][]; readonly add: string[] } {
  const split = applied;
  const placed =
    split === undefined
      ? []
      : [...split.networks.values()].filter((p) => prefixes.has(p.line.split(" ")[1] ?? ""));
  return {
    withdraw: placed.map((p) => toCommands([p], [])),
    add: placed.length === 0 ? [] : toCommands([], placed),
  };
}

/** The prefixes a batch of delta commands withdraws (its `no network` lines). */
export function withdrawnPrefixes(commands: readonly string[]): string[] {
  return commands.flatMap((c) => /^\s*no network (\S+)/.exec(c)?.[1] ?? []);
}

/** A network statement's place and prefix, without its route-map. */
function prefixPlace(p: Placed): string {
  return `${p.router}\u0000${p.af}\u0000${p.line.replace(ROUTE_MAP_SUFFIX, "")}`;
}

/**
 * Lines outside `network` statements, in order, plus the network statements keyed by place and
 * the route-map entries only they may name; undefined when a network line sits where a delta
 * cannot patch it.
 */
export function parseConf(conf: string): ParsedConf | undefined {
  const lines = conf.split("\n");
  const { routeMaps, lineIndexes } = attributeRouteMaps(lines);
  const other: string[] = [];
  const networks = new Map<string, Placed>();
  const where = new Position();
  for (const [index, raw] of lines.entries()) {
    if (lineIndexes.has(index)) continue;
    const line = raw.trim();
    where.advance(raw, line);
    if (NETWORK_LINE.test(line)) {
      const placed = where.place(line);
      // A network line outside `router bgp … / address-family … unicast` is not ours to patch.
      if (placed === undefined) return undefined;
      networks.set(placedKey(placed), placed);
    } else if (line !== "" && !line.startsWith("!")) other.push(line); // blank lines and `!` comments mean nothing to FRR
  }
  return { other: other.join("\n"), networks, routeMaps };
}

/**
 * A copy of `s` that does not keep the text it was cut from alive. V8 keeps a substring of 13 or
 * more characters as a view into its parent: every statement a fast pass builds from a learned
 * shape shares the shape's router and address-family lines, and the applier keeps those
 * statements for as long as FRR runs them — each one held a whole 10k-line render, a new one per
 * settle pass (the soak's growth). Only for these: a config has a handful of such blocks.
 */
function detached(s: string): string {
  return s.split("").join("");
}

/** The router block and address-family a line of a config sits in. */
export class Position {
  private router = "";
  private af = "";

  advance(raw: string, line: string): void {
    if (/^router\s/.test(line) && raw === raw.trimStart()) {
      this.router = detached(line);
      this.af = "";
    } else if (line.startsWith("address-family ") && this.router !== "") this.af = detached(line);
    else if (line === "exit-address-family") this.af = "";
    else if (line === "exit" && this.af === "") this.router = "";
  }

  /** A network statement here; undefined outside `router bgp …` / `address-family ipv4|6 unicast`. */
  place(line: string): Placed | undefined {
    if (!this.router.startsWith("router bgp ") || !/^address-family ipv[46] unicast$/.test(this.af))
      return undefined;
    return { router: this.router, af: this.af, line };
  }
}

/** The route-map entries nothing but network statements names, and the lines they span. */
export function attributeRouteMaps(lines: readonly string[]): {
  routeMaps: Map<string, RouteMapEntry>;
  lineIndexes: Set<number>;
} {
  const blocks = routeMapBlocks(lines);
  const named = namesUsedOutsideNetworks(lines, blocks);
  const routeMaps = new Map<string, RouteMapEntry>();
  const lineIndexes = new Set<number>();
  for (const b of blocks) {
    if (named.has(b.entry.name)) continue;
    routeMaps.set(b.entry.header, b.entry);
    for (let k = b.start; k <= b.end; k++) lineIndexes.add(k);
  }
  return { routeMaps, lineIndexes };
}

interface RouteMapBlock {
  readonly entry: RouteMapEntry;
  /** Line indexes of the header and of the block's last line (its `exit`, when it has one). */
  readonly start: number;
  readonly end: number;
}

/** Top-level route-map entries: the header, then indented lines up to `exit` or the next top-level line. */
function routeMapBlocks(lines: readonly string[]): RouteMapBlock[] {
  const blocks: RouteMapBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const header = ROUTE_MAP_HEADER.exec(lines[i] ?? "");
    if (header === null) continue;
    const block = blockFrom(lines, i, header[1] ?? "");
    blocks.push(block);
    i = block.end;
  }
  return blocks;
}

function blockFrom(lines: readonly string[], start: number, name: string): RouteMapBlock {
  const body: string[] = [];
  let end = start;
  for (let k = start + 1; k < lines.length; k++) {
    const raw = lines[k] ?? "";
    if (raw === "exit") return { entry: { name, header: lines[start] ?? "", body }, start, end: k };
    if (raw !== "" && raw === raw.trimStart()) break;
    end = k;
    const line = raw.trim();
    if (line !== "" && !line.startsWith("!")) body.push(line);
  }
  return { entry: { name, header: lines[start] ?? "", body }, start, end };
}

/**
 * Every word of the lines that are neither network statements nor route-map headers: a route-map
 * named there (by a neighbour, a redistribution, another route-map's `call`) is not an attribute
 * set, and changing it is left to frr-reload.py.
 */
function namesUsedOutsideNetworks(lines: readonly string[], blocks: readonly RouteMapBlock[]): Set<string> {
  const headers = new Set(blocks.map((b) => b.start));
  const words = new Set<string>();
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (headers.has(index) || NETWORK_LINE.test(line) || line.startsWith("!")) continue;
    for (const word of line.split(/\s+/)) words.add(word);
  }
  return words;
}

export function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i]);
}

function difference(a: ReadonlyMap<string, Placed>, b: ReadonlyMap<string, Placed>): Placed[] {
  return [...a.entries()].filter(([k]) => !b.has(k)).map(([, v]) => v);
}

/** Route-map entries a batch adds (before its network lines) and removes (after them). */
export interface RouteMapChanges {
  readonly added: readonly RouteMapEntry[];
  readonly removed: readonly RouteMapEntry[];
}

export const NO_ROUTE_MAP_CHANGES: RouteMapChanges = { added: [], removed: [] };

/**
 * A fast pass's commands as [new route-maps and statements, clean-up]. The first batch is
 * bgpd's alone (its kept vty, ≈ 0.1 ms a line); removing a route-map costs a vtysh process
 * (≈ 30–55 ms, see isRouteMapRemoval), so it comes after, and a change is not held up by it.
 */
export function fastBatches(
  removed: readonly Placed[],
  added: readonly Placed[],
  routeMaps: RouteMapChanges,
): [string[], string[]] {
  const cleanUp =
    routeMaps.removed.length === 0 ? [] : toCommands([], [], { added: [], removed: routeMaps.removed });
  return [toCommands(removed, added, { added: routeMaps.added, removed: [] }), cleanUp];
}

export function toCommands(
  removed: readonly Placed[],
  added: readonly Placed[],
  routeMaps: RouteMapChanges = NO_ROUTE_MAP_CHANGES,
): string[] {
  const groups = new Map<string, { router: string; af: string; lines: string[] }>();
  const push = (p: Placed, line: string): void => {
    const k = `${p.router}\u0000${p.af}`;
    const g = groups.get(k) ?? { router: p.router, af: p.af, lines: [] };
    g.lines.push(line);
    groups.set(k, g);
  };
  // `no network P` needs only the prefix; the route-map part would be checked against the
  // running one and fail if it differs.
  for (const p of removed) push(p, `no ${p.line.replace(ROUTE_MAP_SUFFIX, "")}`);
  for (const p of added) push(p, p.line);
  const out: string[] = [];
  for (const e of routeMaps.added) out.push(e.header, ...e.body.map((l) => ` ${l}`), "exit");
  for (const g of groups.values())
    out.push(g.router, ` ${g.af}`, ...g.lines.map((l) => `  ${l}`), " exit-address-family", "exit");
  for (const e of routeMaps.removed) out.push(`no ${e.header}`);
  return out;
}

/** One advertised prefix as the shapes see it. */
export interface ShapedPrefix {
  readonly prefix: string;
  readonly family: IpFamily;
  /** Attribute set name; undefined: none. */
  readonly attributeSet: string | undefined;
}

const PREFIX_SLOT = "{prefix}";

/**
 * Where and how the templates place the network statements of one prefix, per (family, attribute
 * set), learned from a render: `network {prefix} route-map X` under `router bgp …` /
 * `address-family …`. A (family, set) is known only if every prefix of it had exactly the same
 * statements; anything else (a template that treats prefixes one by one) stays unknown, and a
 * change touching it goes through a full render.
 */
export class NetworkShapes {
  private constructor(private readonly shapes: ReadonlyMap<string, readonly Placed[]>) {}

  static readonly none = new NetworkShapes(new Map());

  static learn(conf: ParsedConf, prefixes: Iterable<ShapedPrefix>): NetworkShapes {
    const keyOfPrefix = new Map<string, string>();
    const prefixesOfKey = new Map<string, number>();
    for (const p of prefixes) {
      const k = shapeKey(p.family, p.attributeSet);
      keyOfPrefix.set(p.prefix, k);
      prefixesOfKey.set(k, (prefixesOfKey.get(k) ?? 0) + 1);
    }
    const seen = new Map<string, Map<string, { placed: Placed; n: number }>>();
    for (const placed of conf.networks.values()) {
      const [, prefix = ""] = placed.line.split(" ");
      const k = keyOfPrefix.get(prefix);
      if (k === undefined) continue; // a statement the templates write themselves
      const generic = { ...placed, line: placed.line.replace(` ${prefix}`, ` ${PREFIX_SLOT}`) };
      const byShape = seen.get(k) ?? new Map<string, { placed: Placed; n: number }>();
      seen.set(k, byShape);
      const entry = byShape.get(placedKey(generic)) ?? { placed: generic, n: 0 };
      entry.n++;
      byShape.set(placedKey(generic), entry);
    }
    const known = new Map<string, Placed[]>();
    for (const [k, byShape] of seen) {
      const shapes = [...byShape.values()];
      if (shapes.every((s) => s.n === prefixesOfKey.get(k)))
        known.set(
          k,
          shapes.map((s) => s.placed),
        );
    }
    return new NetworkShapes(known);
  }

  /** These shapes, plus `more`'s where it knows a (family, set) (learned from a smaller render). */
  with(more: NetworkShapes): NetworkShapes {
    return new NetworkShapes(new Map([...this.shapes, ...more.shapes]));
  }

  /** The statements of `p`; undefined when its (family, set) has no known shape. */
  place(p: ShapedPrefix): Placed[] | undefined {
    return this.shapes
      .get(shapeKey(p.family, p.attributeSet))
      ?.map((s) => ({ ...s, line: s.line.replace(PREFIX_SLOT, p.prefix) }));
  }
}

function shapeKey(family: IpFamily, attributeSet: string | undefined): string {
  return `${family}\u0000${attributeSet ?? ""}`;
}
