// PURE: decides whether two rendered frr.conf texts differ only in BGP `network` lines and,
// if so, the batch of vtysh config commands that turns the old into the new. Anything else
// (a route-map, a neighbour, a template edit) returns undefined: the caller uses frr-reload.py.
// Also learns, from a render, where and how the templates place one prefix's network lines, so
// a prefix change can become commands without rendering every prefix again (NetworkShapes).

import type { IpFamily } from "../model/snapshot.js";

/** Where a line sits: the router block and the address-family inside it. */
export interface Placed {
  readonly router: string;
  readonly af: string;
  readonly line: string;
}

/** A config read for deltas: the lines outside `network` statements, and those statements by place. */
export interface ParsedConf {
  readonly other: string;
  readonly networks: ReadonlyMap<string, Placed>;
}

const NETWORK_LINE = /^network \S+( route-map \S+)?$/;

/**
 * The batch that turns `before` into `after` (`no` lines first, so a prefix can change its
 * route-map in one batch); [] when equal, undefined when more than network lines differ.
 */
export function networkDelta(before: ParsedConf, after: ParsedConf): string[] | undefined {
  if (before.other !== after.other) return undefined;
  const removed = difference(before.networks, after.networks);
  const added = difference(after.networks, before.networks);
  if (removed.length === 0 && added.length === 0) return [];
  return toCommands(removed, added);
}

/** True when both hold the same lines (the order of network statements aside). */
export function sameConf(a: ParsedConf, b: ParsedConf): boolean {
  if (a.other !== b.other || a.networks.size !== b.networks.size) return false;
  for (const k of a.networks.keys()) if (!b.networks.has(k)) return false;
  return true;
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
  return `${p.router}\u0000${p.af}\u0000${p.line.replace(/ route-map \S+$/, "")}`;
}

/**
 * Lines outside `network` statements, in order, plus the network statements keyed by place;
 * undefined when a network line sits where a delta cannot patch it.
 */
export function parseConf(conf: string): ParsedConf | undefined {
  const other: string[] = [];
  const networks = new Map<string, Placed>();
  let router = "";
  let af = "";
  for (const raw of conf.split("\n")) {
    const line = raw.trim();
    const indented = raw.length > 0 && raw !== raw.trimStart();
    if (/^router\s/.test(line) && !indented) {
      router = line;
      af = "";
    } else if (line.startsWith("address-family ") && router !== "") af = line;
    else if (line === "exit-address-family") af = "";
    else if (line === "exit" && af === "") router = "";
    if (NETWORK_LINE.test(line)) {
      // A network line outside `router bgp … / address-family … unicast` is not ours to patch.
      if (!router.startsWith("router bgp ") || !/^address-family ipv[46] unicast$/.test(af)) return undefined;
      const placed = { router, af, line };
      networks.set(placedKey(placed), placed);
      continue;
    }
    // Blank lines and `!` comments mean nothing to FRR.
    if (line !== "" && !line.startsWith("!")) other.push(line);
  }
  return { other: other.join("\n"), networks };
}

function difference(a: ReadonlyMap<string, Placed>, b: ReadonlyMap<string, Placed>): Placed[] {
  return [...a.entries()].filter(([k]) => !b.has(k)).map(([, v]) => v);
}

export function toCommands(removed: readonly Placed[], added: readonly Placed[]): string[] {
  const groups = new Map<string, { router: string; af: string; lines: string[] }>();
  const push = (p: Placed, line: string): void => {
    const k = `${p.router}\u0000${p.af}`;
    const g = groups.get(k) ?? { router: p.router, af: p.af, lines: [] };
    g.lines.push(line);
    groups.set(k, g);
  };
  // `no network P` needs only the prefix; the route-map part would be checked against the
  // running one and fail if it differs.
  for (const p of removed) push(p, `no ${p.line.replace(/ route-map \S+$/, "")}`);
  for (const p of added) push(p, p.line);
  const out: string[] = [];
  for (const g of groups.values())
    out.push(g.router, ` ${g.af}`, ...g.lines.map((l) => `  ${l}`), " exit-address-family", "exit");
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
