// Notices FRR restarting under us by watching the daemons' vty sockets (a restarted daemon
// re-creates its socket: new inode; cheap, one stat per poll, no vtysh) and reports when FRR
// answers again, so the config can be re-applied.

import { stat } from "node:fs/promises";
import { join } from "node:path";

export interface FrrLivenessOptions {
  /** FRR state dir including the pathspace, e.g. /var/run/frr or /var/run/frr/NS (holds DAEMON.vty). */
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
  private lastIds: string | undefined;
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
      const ids = await this.socketIdentity();
      if (ids !== this.lastIds) {
        // A new pid (or a vanished one) means a daemon restarted: confirm it answers first.
        if (this.up) this.opts.onDown();
        this.up = false;
      }
      this.lastIds = ids;
      if (!this.up && ids !== undefined && (await this.opts.isUp())) {
        this.up = true;
        this.opts.onUp();
      }
    } finally {
      this.polling = false;
    }
  }

  private async socketIdentity(): Promise<string | undefined> {
    try {
      const ids = await Promise.all(
        this.opts.daemons.map(async (d) => {
          const st = await stat(join(this.opts.stateDir, `${d}.vty`), { bigint: true });
          return `${st.ino}:${st.ctimeNs}`;
        }),
      );
      return ids.join(",");
    } catch {
      return undefined;
    }
  }
}
