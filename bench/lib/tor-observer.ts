// Watches the tor side of the lab cheaply and precisely:
//  - FIB: one long-running `ip -n TOR -ts monitor route` process; every kernel route event carries
//    ip's own microsecond timestamp, so the FIB time of a change does not depend on our event loop.
//  - BGP table ("wire"): the tor's bgpd vty socket, per prefix (`show bgp ipv4 unicast P json`,
//    ~1 KB) while changes are pending, or the peer's pfxRcd from `show bgp summary json` for counts.
//    Never the whole 10k-route table: dumping it costs the tor's bgpd more than what we measure.
// All times are wall-clock ms (performance.timeOrigin + performance.now()), the clock of ip's stamps.

import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { VtyClient } from "../../sidecar/src/frr/vty-client.js";

export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

type FibListener = (prefix: string, present: boolean, at: number) => void;

export class FibMonitor {
  private child: ChildProcess | undefined;
  private buf = "";
  /** Host routes (proto bgp) now in the tor's kernel, "a.b.c.d/32". */
  readonly present = new Set<string>();
  private readonly listeners = new Set<FibListener>();
  /** Wall time of the last event seen. */
  lastEventAt = 0;

  constructor(private readonly torNs: string) {}

  start(): void {
    const child = spawn("ip", ["-n", this.torNs, "-ts", "monitor", "route"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    this.child = child;
    child.stdout.on("data", (d: Buffer) => {
      this.buf += d.toString();
      let i;
      while ((i = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        this.onLine(line);
      }
    });
  }

  stop(): void {
    if (this.child?.pid !== undefined && this.child.exitCode === null) this.child.kill("SIGTERM");
    this.child = undefined;
  }

  on(fn: FibListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  count(prefixes: ReadonlySet<string>): number {
    let n = 0;
    for (const p of this.present) if (prefixes.has(p)) n++;
    return n;
  }

  /** "[2026-11-23T19:35:20.029763] [Deleted ]10.97.0.5 nhid 6 via … proto bgp metric 20" */
  private onLine(line: string): void {
    const m =
      /^\[(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{6})\]\s+(Deleted\s+)?(\d+\.\d+\.\d+\.\d+)(\/32)?\s.*\bproto bgp\b/.exec(
        line,
      );
    if (m === null) return;
    const [y, mo, d, h, mi, s, us] = m.slice(1, 8).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    // ip prints local time; Date's local-time constructor reads it back the same way.
    const at = new Date(y, mo - 1, d, h, mi, s).getTime() + us / 1000;
    const prefix = `${m[9] ?? ""}/32`;
    const present = m[8] === undefined;
    if (present) this.present.add(prefix);
    else this.present.delete(prefix);
    this.lastEventAt = at;
    for (const fn of this.listeners) fn(prefix, present, at);
  }
}

interface BgpPrefixJson {
  paths?: { valid?: boolean; peer?: { peerId?: string } }[];
}

interface SummaryJson {
  ipv4Unicast?: {
    peers?: Record<string, { state?: string; pfxRcd?: number; connectionsEstablished?: number }>;
  };
}

export class TorBgp {
  private readonly vty: VtyClient;

  constructor(torNs: string) {
    this.vty = new VtyClient(join("/var/run/frr", torNs, "bgpd.vty"));
  }

  close(): void {
    this.vty.close();
  }

  /** True when the tor holds a valid path for the prefix learned from a peer. */
  async has(prefix: string): Promise<boolean> {
    const parsed = JSON.parse(
      await this.vty.command(`show bgp ipv4 unicast ${prefix} json`),
    ) as BgpPrefixJson;
    return (parsed.paths ?? []).some((p) => p.valid === true && p.peer?.peerId !== undefined);
  }

  /** The first IPv4 peer's pfxRcd and state (the lab has exactly one peer). */
  async peer(): Promise<{ state: string; pfxRcd: number; established: number }> {
    const parsed = JSON.parse(await this.vty.command("show bgp ipv4 unicast summary json")) as SummaryJson & {
      peers?: Record<string, { state?: string; pfxRcd?: number; connectionsEstablished?: number }>;
    };
    const peers = parsed.peers ?? parsed.ipv4Unicast?.peers ?? {};
    const p = Object.values(peers)[0];
    return { state: p?.state ?? "none", pfxRcd: p?.pfxRcd ?? 0, established: p?.connectionsEstablished ?? 0 };
  }

  /** Polls pfxRcd until pred holds; returns the wall time it was first seen (or undefined on timeout). */
  async waitCount(
    pred: (n: number) => boolean,
    timeoutMs: number,
    intervalMs = 10,
  ): Promise<number | undefined> {
    const deadline = wallNow() + timeoutMs;
    while (wallNow() < deadline) {
      const p = await this.peer().catch(() => undefined);
      if (p !== undefined && pred(p.pfxRcd)) return wallNow();
      await sleep(intervalMs);
    }
    return undefined;
  }
}

/** One timed change: written to the fake API at t0, expected to make `prefix` present or absent. */
export interface Change {
  readonly prefix: string;
  readonly present: boolean;
  readonly t0: number;
  wireAt?: number;
  fibAt?: number;
  timedOut?: boolean;
}

/**
 * Resolves changes as the tor reflects them: FIB from the monitor's events, wire by polling each
 * pending prefix over the vty every `pollMs`. At most one pending change per prefix.
 */
export class ChangeTracker {
  private readonly pending = new Map<
    string,
    { change: Change; resolve: () => void; timer: NodeJS.Timeout }
  >();
  private polling = false;
  private stopped = false;
  private readonly off: () => void;
  readonly done: Change[] = [];

  constructor(
    fib: FibMonitor,
    private readonly bgp: TorBgp,
    private readonly pollMs = 2,
    private readonly timeoutMs = 15_000,
  ) {
    this.off = fib.on((prefix, present, at) => {
      const p = this.pending.get(prefix);
      if (p !== undefined && p.change.present === present && p.change.fibAt === undefined) {
        p.change.fibAt = at;
        this.settle(prefix);
      }
    });
  }

  isPending(prefix: string): boolean {
    return this.pending.has(prefix);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Registers the change and then runs `write` (the fake API upsert); resolves when both sides saw it. */
  track(prefix: string, present: boolean, write: () => void): Promise<Change> {
    if (this.pending.has(prefix)) throw new Error(`a change of ${prefix} is already pending`);
    const change: Change = { prefix, present, t0: wallNow() };
    const promise = new Promise<Change>((resolve) => {
      const timer = setTimeout(() => {
        change.timedOut = true;
        this.finish(prefix);
      }, this.timeoutMs);
      this.pending.set(prefix, {
        change,
        timer,
        resolve: () => {
          resolve(change);
        },
      });
    });
    write();
    this.kick();
    return promise;
  }

  stop(): void {
    this.stopped = true;
    this.off();
  }

  private settle(prefix: string): void {
    const p = this.pending.get(prefix);
    if (p?.change.wireAt !== undefined && p.change.fibAt !== undefined) this.finish(prefix);
  }

  private finish(prefix: string): void {
    const p = this.pending.get(prefix);
    if (p === undefined) return;
    clearTimeout(p.timer);
    this.pending.delete(prefix);
    this.done.push(p.change);
    p.resolve();
  }

  private kick(): void {
    if (this.polling || this.stopped) return;
    this.polling = true;
    void this.pollLoop().finally(() => {
      this.polling = false;
    });
  }

  private async pollLoop(): Promise<void> {
    while (!this.stopped && [...this.pending.values()].some((p) => p.change.wireAt === undefined)) {
      for (const [prefix, p] of [...this.pending]) {
        if (p.change.wireAt !== undefined) continue;
        const has = await this.bgp.has(prefix).catch(() => undefined);
        // Re-read: the FIB event or a timeout may have settled the change during the await.
        const current = this.pending.get(prefix);
        if (has === p.change.present && current === p && current.change.wireAt === undefined) {
          p.change.wireAt = wallNow();
          this.settle(prefix);
        }
      }
      await sleep(this.pollMs);
    }
  }
}

/**
 * Records the monitor timestamp at which the number of `wanted` prefixes in the tor's FIB first
 * satisfies `pred` (counted incrementally: 10k events must not each rescan the set).
 */
export function watchFibCount(
  fib: FibMonitor,
  wanted: ReadonlySet<string>,
  pred: (n: number) => boolean,
): { readonly at: () => number | undefined; readonly first: () => number | undefined; stop(): void } {
  let count = fib.count(wanted);
  let at: number | undefined = pred(count) ? wallNow() : undefined;
  let first: number | undefined;
  const seen = new Set<string>();
  for (const p of fib.present) if (wanted.has(p)) seen.add(p);
  const off = fib.on((prefix, present, ts) => {
    if (!wanted.has(prefix)) return;
    first ??= ts;
    if (present && !seen.has(prefix)) {
      seen.add(prefix);
      count++;
    } else if (!present && seen.delete(prefix)) count--;
    if (at === undefined && pred(count)) at = ts;
  });
  return { at: () => at, first: () => first, stop: off };
}

/**
 * When the tor's FIB held all of `wanted` (`all`) or none of it: the `ip monitor` watch's time if
 * it saw it (and, with `since`, not before `since`), else the tor's kernel table itself, read
 * every 200 ms until `deadline` — `ip monitor` can lose events in a burst of 10k route changes
 * (netlink buffer); the read is then ≤ 200 ms later than the truth. undefined: not by the deadline.
 */
export async function fibSettledAt(p: {
  readonly readFib: () => Promise<ReadonlySet<string>>;
  readonly watch?: { readonly at: () => number | undefined };
  readonly wanted: ReadonlySet<string>;
  readonly all: boolean;
  readonly deadline: number;
  readonly since?: number;
}): Promise<number | undefined> {
  const seen = (): number | undefined => {
    const at = p.watch?.at();
    return at !== undefined && at >= (p.since ?? -Infinity) ? at : undefined;
  };
  let lastRead = 0;
  while (seen() === undefined && wallNow() < p.deadline) {
    if (wallNow() - lastRead >= 200) {
      lastRead = wallNow();
      const now = await p.readFib().catch(() => undefined);
      const held = now === undefined ? -1 : [...p.wanted].filter((x) => now.has(x)).length;
      if (held === (p.all ? p.wanted.size : 0)) return wallNow();
    }
    await sleep(10);
  }
  return seen();
}
