// PURE: decides whether two rendered frr.conf texts differ only in BGP `network` lines and,
// if so, the batch of vtysh config commands that turns the old into the new. Anything else
// (a route-map, a neighbour, a template edit) returns undefined: the caller uses frr-reload.py.

/** Where a line sits: the router block and the address-family inside it. */
interface Placed {
  readonly router: string;
  readonly af: string;
  readonly line: string;
}

const NETWORK_LINE = /^network \S+( route-map \S+)?$/;

/** Commands for one `vtysh -f`: `no` lines first, so a prefix can change its route-map in one batch. */
export function computeNetworkDelta(oldConf: string, newConf: string): string[] | undefined {
  const before = splitCached(oldConf);
  const after = splitCached(newConf);
  if (before === undefined || after === undefined) return undefined;
  if (before.other !== after.other) return undefined;
  const removed = difference(before.networks, after.networks);
  const added = difference(after.networks, before.networks);
  if (removed.length === 0 && added.length === 0) return [];
  return toCommands(removed, added);
}

/**
 * `no network` commands for every network statement FRR runs (`show running-config`) that the
 * drained render lacks: how a drain withdraws what an earlier run of the sidecar left in FRR
 * without frr-reload.py, which would spawn one vtysh per removed line. Only network lines are
 * touched; undefined when the running config cannot be read that way.
 */
export function computeWithdrawal(runningConf: string, drainedConf: string): string[] | undefined {
  const running = splitConf(runningConf);
  const drained = splitCached(drainedConf);
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
  appliedConf: string,
  prefixes: ReadonlySet<string>,
): { readonly withdraw: string[][]; readonly add: string[] } {
  const split = splitCached(appliedConf);
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

/** `other`: the lines outside `network` statements, in order, joined. */
type Split = { other: string; networks: Map<string, Placed> } | undefined;

/**
 * The last two splits: one pass's new render is the next pass's old one, so at 10k lines this
 * halves the parsing per change. Results are never mutated, so sharing them is safe.
 */
const recent: { conf: string; split: Split }[] = [];

function splitCached(conf: string): Split {
  const hit = recent.find((r) => r.conf === conf);
  if (hit !== undefined) return hit.split;
  const split = splitConf(conf);
  recent.unshift({ conf, split });
  recent.length = Math.min(recent.length, 2);
  return split;
}

/** Lines outside `network` statements, in order, plus the network statements keyed by place. */
function splitConf(conf: string): Split {
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
      networks.set(key(placed), placed);
      continue;
    }
    // Blank lines and `!` comments mean nothing to FRR.
    if (line !== "" && !line.startsWith("!")) other.push(line);
  }
  return { other: other.join("\n"), networks };
}

function key(p: Placed): string {
  return `${p.router}\u0000${p.af}\u0000${p.line}`;
}

function difference(a: Map<string, Placed>, b: Map<string, Placed>): Placed[] {
  return [...a.entries()].filter(([k]) => !b.has(k)).map(([, v]) => v);
}

function toCommands(removed: Placed[], added: Placed[]): string[] {
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
