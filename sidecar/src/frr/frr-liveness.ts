// Notices FRR restarting under us by watching the daemons' vty sockets (a restarted daemon
// re-creates its socket: new inode; a dead one refuses connections; cheap, one stat and one
// connect per poll, no vtysh) and reports when FRR answers again, so the config can be re-applied.

import { stat } from "node:fs/promises";
import { createConnection } from "node:net";
import { join } from "node:path";
import { Periodic, type Clock } from "../clock.js";

export interface FrrLivenessOptions {
  /** FRR state dir including the pathspace, e.g. /var/run/frr or /var/run/frr/NS (holds DAEMON.vty). */
  readonly stateDir: string;
  readonly daemons: readonly string[];
  readonly intervalMs: number;
  readonly clock: Clock;
  /** vtysh round trip: true when the daemons answer. */
  readonly isUp: () => Promise<boolean>;
  /**
   * FRR answers (first time, or after a restart): its running config is unknown. `again`: it
   * answered before, so it restarted while watched (a daemon may be back without its config).
   */
  readonly onUp: (again: boolean) => void;
  readonly onDown: () => void;
  /**
   * The daemons' identity, undefined while one is gone (changes when one restarted). Default: the
   * inode and ctime of each stateDir/DAEMON.vty whose daemon listens.
   */
  readonly identity?: () => Promise<string | undefined>;
}

export class FrrLiveness {
  private readonly identity: () => Promise<string | undefined>;
  private readonly loop: Periodic;
  private lastIds: string | undefined;
  private up = false;
  private answeredBefore = false;
  private polling = false;

  constructor(private readonly opts: FrrLivenessOptions) {
    this.identity = opts.identity ?? (() => this.socketIdentity());
    this.loop = new Periodic(opts.clock, opts.intervalMs, () => void this.poll());
  }

  get isUp(): boolean {
    return this.up;
  }

  start(): void {
    this.loop.start();
    void this.poll();
  }

  stop(): void {
    this.loop.stop();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const ids = await this.identity();
      if (ids !== this.lastIds) {
        // A new pid (or a vanished one) means a daemon restarted: confirm it answers first.
        if (this.up) this.opts.onDown();
        this.up = false;
      }
      this.lastIds = ids;
      if (!this.up && ids !== undefined && (await this.opts.isUp())) {
        this.up = true;
        this.opts.onUp(this.answeredBefore);
        this.answeredBefore = true;
      }
    } finally {
      this.polling = false;
    }
  }

  private async socketIdentity(): Promise<string | undefined> {
    try {
      const ids = await Promise.all(
        this.opts.daemons.map(async (d) => {
          const path = join(this.opts.stateDir, `${d}.vty`);
          const st = await stat(path, { bigint: true });
          // A daemon killed with SIGKILL leaves its socket file behind: only a listener proves
          // it is alive (and `vtysh -f` silently skips the commands of a daemon that is gone).
          // A busy daemon is alive: FRR's vty listen backlog is 5, and a daemon digesting 10k
          // routes does not accept() for seconds, so a full backlog (EAGAIN) or a slow connect
          // must not read as a restart (which would force a full re-apply on a loaded node).
          if ((await probeSocket(path)) === "dead") throw new Error(`${d} is not listening`);
          return `${st.ino}:${st.ctimeNs}`;
        }),
      );
      return ids.join(",");
    } catch {
      return undefined;
    }
  }
}

/**
 * "dead" when nothing listens on the unix socket (ECONNREFUSED: the daemon is gone, its socket
 * file left behind); "busy" when the listener does not take the connection in time or its
 * backlog is full (EAGAIN); "alive" when it connects.
 */
export function probeSocket(path: string, timeoutMs = 2000): Promise<"alive" | "busy" | "dead"> {
  return new Promise((resolve) => {
    const sock = createConnection({ path });
    const settle = (result: "alive" | "busy" | "dead"): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(result);
    };
    // Node's timer, not the injected clock: it bounds a real connect, which only real time ends.
    const timer = setTimeout(() => {
      settle("busy");
    }, timeoutMs);
    sock.once("connect", () => {
      settle("alive");
    });
    sock.once("error", (err: NodeJS.ErrnoException) => {
      settle(err.code === "EAGAIN" || err.code === "EWOULDBLOCK" ? "busy" : "dead");
    });
  });
}
