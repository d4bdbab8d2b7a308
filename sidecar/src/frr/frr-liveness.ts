// Notices FRR restarting under us by watching the daemons' pid files (cheap: a file read
// per poll, no vtysh) and reports when FRR answers again, so the config can be re-applied.

import { readFile } from "node:fs/promises";
import { join } from "node:path";

export interface FrrLivenessOptions {
  /** FRR state dir including the pathspace, e.g. /var/run/frr or /var/run/frr/NS. */
  readonly stateDir: string;
  readonly daemons: readonly string[];
  readonly intervalMs: number;
  /** vtysh round trip: true when the daemons answer. */
  readonly isUp: () => Promise<boolean>;
  /** FRR came back (first time, or after a restart): its running config is unknown. */
  readonly onUp: () => void;
  readonly onDown: () => void;
}

export class FrrLiveness {
  private timer: NodeJS.Timeout | undefined;
  private lastPids: string | undefined;
  private up = false;
  private polling = false;

  constructor(private readonly opts: FrrLivenessOptions) {}

  get isUp(): boolean {
    return this.up;
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.opts.intervalMs);
    void this.poll();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Resolves when FRR answers (or rejects after `timeoutMs`). */
  async waitUntilUp(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.up) {
      if (Date.now() > deadline) throw new Error(`FRR did not answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
      await this.poll();
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const pids = await this.readPids();
      if (pids !== this.lastPids) {
        // A new pid (or a vanished one) means a daemon restarted: confirm it answers first.
        if (this.up) this.opts.onDown();
        this.up = false;
      }
      this.lastPids = pids;
      if (!this.up && pids !== undefined && (await this.opts.isUp())) {
        this.up = true;
        this.opts.onUp();
      }
    } finally {
      this.polling = false;
    }
  }

  private async readPids(): Promise<string | undefined> {
    try {
      const pids = await Promise.all(
        this.opts.daemons.map(async (d) => (await readFile(join(this.opts.stateDir, `${d}.pid`), "utf8")).trim()),
      );
      return pids.join(",");
    } catch {
      return undefined;
    }
  }
}
