// What a fast pass sends: the changed prefixes' statements placed as the last render placed
// their (family, attribute set); for an attribute set FRR does not run yet, its route-map
// entries and statement shape taken from a render of that set's prefixes alone; and the
// removal of a set's route-map once no statement uses it (ADR 0009).

import { compareStrings, nameAttributeSets } from "../model/attribute-sets.js";
import type { AdvertisedPrefix, AttributeSet, BgpAttributes } from "../model/desired-state-types.js";
import type { PrefixChange } from "../model/prefix-claims.js";
import {
  NetworkShapes,
  parseConf,
  routeMapUse,
  sameLines,
  type Placed,
  type RouteMapChanges,
  type RouteMapEntry,
} from "../frr/config-delta.js";

/** What a fast pass sends, and what it teaches the next passes once FRR accepted it. */
export interface FastPlan {
  readonly removed: readonly Placed[];
  readonly added: readonly Placed[];
  readonly routeMaps: RouteMapChanges;
  /** attributesKey → name of the sets this pass introduces. */
  readonly names: ReadonlyMap<string, string>;
  /** attributesKey → name of the sets whose route-maps this pass removes (no statement is left). */
  readonly retired: ReadonlyMap<string, string>;
  readonly shapes: NetworkShapes;
}

export interface FastPlanContext {
  /** attributesKey → name, for the sets FRR runs. */
  readonly setNames: ReadonlyMap<string, string>;
  /** How the last render placed each (family, attribute set). */
  readonly shapes: NetworkShapes;
  readonly runningRouteMaps: ReadonlyMap<string, RouteMapEntry> | undefined;
  /** How many network statements FRR runs name each route-map. */
  readonly routeMapUse: ReadonlyMap<string, number> | undefined;
  /** The templates rendered for just these prefixes and sets (may throw). */
  readonly renderAlone: (prefixes: readonly AdvertisedPrefix[], sets: readonly AttributeSet[]) => string;
}

/** Undefined: some change cannot be placed without a full render. */
export function planFastPass(changes: readonly PrefixChange[], ctx: FastPlanContext): FastPlan | undefined {
  const fresh = freshSets(changes, ctx);
  if (fresh === undefined) return undefined;
  const names = new Map([...ctx.setNames, ...fresh.names]);
  const placed = (c: PrefixChange, key: string | undefined): Placed[] | undefined => {
    if (key === undefined) return [];
    const attributeSet = key === "" ? undefined : names.get(key);
    if (key !== "" && attributeSet === undefined) return undefined;
    return fresh.shapes.place({ prefix: c.prefix, family: c.family, attributeSet });
  };
  const removed: Placed[] = [];
  const added: Placed[] = [];
  for (const c of changes) {
    const before = placed(c, c.before);
    const after = placed(c, c.after);
    if (before === undefined || after === undefined) return undefined;
    removed.push(...before);
    added.push(...after);
  }
  const retired = retiredSets(changes, removed, added, ctx);
  const gone = new Set(retired.values());
  const unused =
    gone.size === 0 ? [] : [...(ctx.runningRouteMaps?.values() ?? [])].filter((e) => gone.has(e.name));
  return { removed, added, ...fresh, routeMaps: { added: fresh.routeMaps.added, removed: unused }, retired };
}

/**
 * The running sets the changes leave (a `before` key) that no statement names once the batch ran:
 * their route-maps go after the statements, as the full render would drop them.
 */
function retiredSets(
  changes: readonly PrefixChange[],
  removed: readonly Placed[],
  added: readonly Placed[],
  ctx: FastPlanContext,
): Map<string, string> {
  const retired = new Map<string, string>();
  const use = ctx.routeMapUse;
  if (use === undefined) return retired;
  const leaving = routeMapUse(removed);
  const coming = routeMapUse(added);
  for (const { before: key } of changes) {
    const name = key === undefined || key === "" ? undefined : ctx.setNames.get(key);
    if (key === undefined || name === undefined) continue;
    const left = (use.get(name) ?? 0) - (leaving.get(name) ?? 0) + (coming.get(name) ?? 0);
    // Exactly none left; below zero the bookkeeping is off: keep the route-map.
    if (left === 0) retired.set(key, name);
  }
  return retired;
}

type FreshSets = Pick<FastPlan, "names" | "shapes" | "routeMaps">;

/**
 * The attribute sets the changes need that FRR does not run: their names (as the full render
 * would give them) and how the templates render them. Undefined: not on the fast path (a name
 * collision would rename a running set, the render fails, or FRR runs another entry of the name).
 */
function freshSets(changes: readonly PrefixChange[], ctx: FastPlanContext): FreshSets | undefined {
  const wanted = new Map<string, BgpAttributes>();
  for (const c of changes) {
    const key = c.after;
    if (key !== undefined && key !== "" && !ctx.setNames.has(key) && c.afterAttributes !== undefined)
      wanted.set(key, c.afterAttributes);
  }
  if (wanted.size === 0)
    return { names: new Map(), shapes: ctx.shapes, routeMaps: { added: [], removed: [] } };
  const named = nameAttributeSets([...ctx.setNames.keys(), ...wanted.keys()]);
  for (const [key, name] of ctx.setNames) if (named.get(key) !== name) return undefined;
  const names = new Map([...wanted.keys()].map((key) => [key, named.get(key) ?? ""]));
  const sets = [...wanted]
    .map(([key, attributes]) => ({ name: names.get(key) ?? "", attributes }))
    .sort((a, b) => compareStrings(a.name, b.name));
  const prefixes = changes.flatMap((c): AdvertisedPrefix[] => {
    const set = c.after === undefined ? undefined : names.get(c.after);
    return set === undefined
      ? []
      : [{ prefix: c.prefix, address: c.address, family: c.family, attributeSet: set, services: [] }];
  });
  const parsed = renderedAlone(ctx, prefixes, sets);
  if (parsed === undefined) return undefined;
  const added = newEntries(parsed.routeMaps, new Set(names.values()), ctx.runningRouteMaps);
  if (added === undefined) return undefined;
  return {
    names,
    shapes: ctx.shapes.with(NetworkShapes.learn(parsed, prefixes)),
    routeMaps: { added, removed: [] },
  };
}

function renderedAlone(
  ctx: FastPlanContext,
  prefixes: readonly AdvertisedPrefix[],
  sets: readonly AttributeSet[],
): ReturnType<typeof parseConf> {
  try {
    return parseConf(ctx.renderAlone(prefixes, sets));
  } catch {
    return undefined; // the full render reports it
  }
}

/** The entries of these sets FRR does not run yet; undefined if it runs a different one. */
function newEntries(
  rendered: ReadonlyMap<string, RouteMapEntry>,
  setNames: ReadonlySet<string>,
  running: ReadonlyMap<string, RouteMapEntry> | undefined,
): RouteMapEntry[] | undefined {
  const added: RouteMapEntry[] = [];
  for (const entry of rendered.values()) {
    if (!setNames.has(entry.name)) continue;
    const now = running?.get(entry.header);
    if (now === undefined) added.push(entry);
    else if (!sameLines(now.body, entry.body)) return undefined;
  }
  return added;
}
