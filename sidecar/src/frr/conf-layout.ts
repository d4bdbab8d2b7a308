// PURE: a written frr.conf with its network statements and attribute route-maps taken out, and
// where they go back in: after fast changes, a file that holds exactly what FRR runs is written
// from the applier's kept statements in O(statements), with no render and no parse of the config.

import {
  attributeRouteMaps,
  isNetworkLine,
  Position,
  type Placed,
  type RouteMapEntry,
} from "./config-delta.js";

/** Where kept lines go: the network statements of one router/address-family block, or the route-maps. */
type Slot =
  | { readonly kind: "networks"; readonly block: string; readonly indent: string }
  | { readonly kind: "routeMaps" };

export class ConfLayout {
  private constructor(
    /**
     * The lines between the slots, joined (undefined: none), one run more than there are slots.
     * Joined, they are new strings: lines split from the text would keep all of it alive.
     */
    private readonly runs: readonly (string | undefined)[],
    private readonly slots: readonly Slot[],
    /** Blocks that have a slot (router bgp … / address-family ipv4|6 unicast). */
    private readonly blocks: ReadonlySet<string>,
  ) {}

  /**
   * The layout of `text`: every `address-family ipv4|6 unicast` block under `router bgp` gets a
   * slot right after its header, where its network statements go back (FRR does not care where in
   * the block they stand), and the attribute route-maps go where the first of them stood, else
   * before the first `router bgp`. Undefined when a network line sits where a delta cannot patch
   * it (parseConf refuses such a text too).
   */
  static of(text: string): ConfLayout | undefined {
    const lines = text.split("\n");
    const { lineIndexes } = attributeRouteMaps(lines);
    const b = new LayoutBuilder();
    const where = new Position();
    for (const [index, raw] of lines.entries()) {
      if (lineIndexes.has(index)) {
        b.routeMapsHere();
        continue;
      }
      const line = raw.trim();
      where.advance(raw, line);
      if (isNetworkLine(line)) {
        if (where.place(line) === undefined) return undefined;
        continue; // goes back in at its block's slot
      }
      if (/^router bgp\s/.test(raw)) b.routeMapsHere();
      b.keep(raw);
      if (line.startsWith("address-family ")) b.networksAfter(raw, where.place(line));
    }
    b.routeMapsHere();
    const { runs, slots, blocks } = b.done();
    return new ConfLayout(runs, slots, blocks);
  }

  /**
   * The text with these statements and route-map entries in their slots; undefined when a
   * statement belongs to a block the text does not have (the caller renders instead).
   */
  write(networks: Iterable<Placed>, routeMaps: Iterable<RouteMapEntry>): string | undefined {
    const byBlock = new Map<string, string[]>();
    for (const p of networks) {
      const key = blockKey(p);
      if (!this.blocks.has(key)) return undefined;
      const lines = byBlock.get(key);
      if (lines === undefined) byBlock.set(key, [p.line]);
      else lines.push(p.line);
    }
    const maps: string[] = [];
    for (const e of routeMaps) maps.push(e.header, ...e.body.map((l) => ` ${l}`), "exit");
    const out: string[] = [];
    const push = (run: string | undefined): void => {
      if (run !== undefined) out.push(run);
    };
    for (const [i, s] of this.slots.entries()) {
      push(this.runs[i]);
      if (s.kind === "routeMaps") for (const l of maps) out.push(l);
      else for (const l of byBlock.get(s.block) ?? []) out.push(s.indent + l);
    }
    push(this.runs[this.slots.length]);
    return out.join("\n");
  }
}

/** Collects a layout line by line: the kept lines and the slots between them. */
class LayoutBuilder {
  private readonly runs: (string | undefined)[] = [];
  private readonly slots: Slot[] = [];
  private readonly blocks = new Set<string>();
  private run: string[] = [];
  private routeMapsPlaced = false;

  keep(raw: string): void {
    this.run.push(raw);
  }

  /** The route-maps' slot, unless they have one already (the first place asked for wins). */
  routeMapsHere(): void {
    if (this.routeMapsPlaced) return;
    this.routeMapsPlaced = true;
    this.slot({ kind: "routeMaps" });
  }

  /** A block's slot, right after its `address-family` header line (the first, if it repeats). */
  networksAfter(header: string, here: Placed | undefined): void {
    if (here === undefined || this.blocks.has(blockKey(here))) return;
    this.blocks.add(blockKey(here));
    this.slot({ kind: "networks", block: blockKey(here), indent: `${/^\s*/.exec(header)?.[0] ?? ""} ` });
  }

  done(): { runs: (string | undefined)[]; slots: Slot[]; blocks: Set<string> } {
    this.runs.push(joined(this.run));
    return { runs: this.runs, slots: this.slots, blocks: this.blocks };
  }

  private slot(s: Slot): void {
    this.runs.push(joined(this.run));
    this.slots.push(s);
    this.run = [];
  }
}

function joined(lines: readonly string[]): string | undefined {
  return lines.length === 0 ? undefined : lines.join("\n");
}

function blockKey(p: Pick<Placed, "router" | "af">): string {
  return `${p.router}\u0000${p.af}`;
}
