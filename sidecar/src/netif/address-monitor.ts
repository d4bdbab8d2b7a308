// Sees service-IP changes on the service interface as the kernel reports them (`ip -o monitor
// address`, or `route` for local routes; one long-lived process), so drift is noticed without
// listing 10k addresses per period.
// It only reports; whether an event contradicts what we believe is the AddressReconciler's call.

import { OneShot, type Clock } from "../clock.js";
import { spawnLines, type LineProcess } from "../exec.js";
import type { KeptAs } from "./ip-addresses.js";

export interface AddressEvent {
  readonly op: "add" | "remove";
  /** Canonical text as ip(8) prints it, without the prefix length. */
  readonly address: string;
}

export interface AddressMonitorOptions {
  readonly iface: string;
  /** Addresses (default) or local routes: which kernel objects hold the service IPs. */
  readonly keptAs?: KeptAs;
  /** `ip -n NS` when the interface lives in another network namespace ("" = ours). */
  readonly netns: string;
  readonly onEvent: (event: AddressEvent) => void;
  /**
   * Events may have been missed (the monitor started, or restarted after it died): the caller
   * re-lists the interface once.
   */
  readonly onGap: () => void;
  readonly log: { warn(fields: object, msg: string): void };
  /** Times the restart backoff. */
  readonly clock: Clock;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

/** `[Deleted ]IDX: IFACE    inet[6] ADDRESS/LEN …` — the one-line form of `ip -o monitor address`. */
const LINE = /^(Deleted )?\d+:\s+(\S+)\s+(inet6?)\s+([0-9a-f.:]+)\/(\d+)/;

/**
 * `[Deleted ]local ADDRESS[/LEN] dev IFACE table local …` — a local route in `ip -o monitor route`
 * (whoever added it: an address's own route too, as the listing counts it).
 */
const ROUTE_LINE = /^(Deleted )?local ([0-9a-f.:]+)(?:\/(\d+))? dev (\S+) table local\b/;

/** A host address (/32, /128) event on `iface`; anything else (other interfaces, subnets) is not ours. */
export function parseMonitorLine(
  line: string,
  iface: string,
  keptAs: KeptAs = "address",
): AddressEvent | undefined {
  if (keptAs === "local-route") return parseRouteLine(line, iface);
  const m = LINE.exec(line);
  if (m === null) return undefined;
  const [, deleted, dev, family, address, len] = m;
  if (dev !== iface || address === undefined) return undefined;
  if (len !== (family === "inet" ? "32" : "128")) return undefined;
  return { op: deleted === undefined ? "add" : "remove", address };
}

function parseRouteLine(line: string, iface: string): AddressEvent | undefined {
  // Most route events are other tables' (a full BGP table at the node): one cheap test first.
  if (!line.startsWith("local ") && !line.startsWith("Deleted local ")) return undefined;
  const m = ROUTE_LINE.exec(line);
  if (m === null) return undefined;
  const [, deleted, address, len, dev] = m;
  if (dev !== iface || address === undefined) return undefined;
  if (len !== undefined && len !== (address.includes(":") ? "128" : "32")) return undefined;
  return { op: deleted === undefined ? "add" : "remove", address };
}

export class AddressMonitor {
  private child: LineProcess | undefined;
  private stopped = false;
  private attempt = 0;
  private readonly restart: OneShot;

  constructor(private readonly opts: AddressMonitorOptions) {
    this.restart = new OneShot(opts.clock);
  }

  /** True while the monitor process runs (events are being seen). */
  get running(): boolean {
    return this.child !== undefined;
  }

  start(): void {
    if (this.stopped || this.child !== undefined) return;
    const netns = this.opts.netns === "" ? [] : ["-n", this.opts.netns];
    const keptAs = this.opts.keptAs ?? "address";
    const objects = keptAs === "local-route" ? "route" : "address";
    const child = spawnLines(["ip", ...netns, "-o", "monitor", objects], (line) => {
      const event = parseMonitorLine(line, this.opts.iface, keptAs);
      if (event !== undefined) this.opts.onEvent(event);
    });
    this.child = child;
    void child.spawned.then(() => {
      this.attempt = 0;
      // Whatever changed before the monitor listened is unseen: one listing covers it.
      this.opts.onGap();
    });
    void child.ended.then((why) => {
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      this.restartLater(`ip monitor ended (${why})`);
    });
  }

  stop(): void {
    this.stopped = true;
    this.restart.stop();
    this.child?.kill();
    this.child = undefined;
  }

  private restartLater(reason: string): void {
    const min = this.opts.minBackoffMs ?? 1000;
    const delay = Math.min(this.opts.maxBackoffMs ?? 60_000, min * 2 ** this.attempt);
    this.attempt++;
    this.opts.log.warn({ err: reason, retryInMs: delay }, "address monitor stopped; restarting it");
    // Changes are unseen until it runs again: the caller lists once now, and again on restart.
    this.opts.onGap();
    this.restart.arm(delay, () => {
      this.start();
    });
  }
}
