// Owns the last BGP session statuses read from FRR: polled periodically for the metrics, and on
// demand while readiness waits for a first Established session (so the next probe sees it).

import { Periodic, type Clock, type Loop } from "../clock.js";
import { parseBgpSummary, type SessionStatus } from "./bgp-status.js";

export const NO_SESSION_YET = "no BGP session Established yet";

export interface SessionPollDeps {
  readonly clock: Clock;
  /** timings.sessionPollSeconds in ms. */
  readonly intervalMs: number;
  /** `show bgp summary json`. */
  readonly summary: () => Promise<unknown>;
  /** Every poll's result; none when FRR did not answer. */
  readonly observe: (sessions: readonly SessionStatus[]) => void;
  /**
   * server.readyRequiresEstablishedSession, and neighbours configured: not ready until one
   * session is Established.
   */
  readonly readyRequiresSession: boolean;
}

export class SessionPoll implements Loop {
  /** The last poll's sessions (none before the first, or when FRR did not answer it). */
  private last: readonly SessionStatus[] = [];
  private readonly loop: Periodic;

  constructor(private readonly deps: SessionPollDeps) {
    this.loop = new Periodic(deps.clock, deps.intervalMs, () => {
      this.poll();
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  /** Reads the sessions now (not awaited: the result lands in `sessions` and the metrics). */
  poll(): void {
    this.deps.summary().then(
      (summary) => {
        this.record(parseBgpSummary(summary));
      },
      () => {
        this.record([]);
      },
    );
  }

  /** While readiness waits for a session: polls now; true when it waits. */
  pollWhileWaiting(): boolean {
    const waits = this.deps.readyRequiresSession && !this.last.some((s) => s.established);
    if (waits) this.poll();
    return waits;
  }

  /** For /readyz; each probe while waiting also polls, so the next one sees the session. */
  notReadyReasons(): string[] {
    return this.pollWhileWaiting() ? [NO_SESSION_YET] : [];
  }

  private record(sessions: readonly SessionStatus[]): void {
    this.last = sessions;
    this.deps.observe(sessions);
  }
}
