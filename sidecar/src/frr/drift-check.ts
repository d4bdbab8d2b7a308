// Notices FRR's running config drifting from frr.conf (a change made with vtysh, a daemon that
// lost part of its config) by asking frr-reload.py for the diff now and then; drift → full apply.

import { OneShot, Periodic, type Clock, type Loop } from "../clock.js";
import { isEmptyDiff, type ReloadDiff } from "./frr-client.js";

export interface DriftCheckDeps {
  readonly clock: Clock;
  /** timings.driftCheckIntervalSeconds in ms; 0 = never. */
  readonly intervalMs: number;
  /**
   * A token that stays the same while neither FRR nor frr.conf changes and the file holds all FRR
   * was told; undefined before the first apply (the file is not ours yet), while fast changes
   * wait for the settle pass to write them, and while a change is in flight. A comparison counts
   * only if the token is the same before and after it: under churn the file lags FRR by design.
   */
  readonly inStep: () => number | undefined;
  /** frr-reload.py --test of frr.conf against what FRR runs. */
  readonly diff: () => Promise<ReloadDiff>;
  readonly requestFullApply: () => void;
  readonly log: { warn(fields: object, msg: string): void };
}

/**
 * How long after a start without frr-reload.py (ADR 0020) its comparison follows: soon next to
 * the period, but after the start's own work (frr-reload.py reads every daemon's config through
 * vtysh, which waits on a zebra still digesting the start's addresses: seconds at 10k).
 */
export const CHECK_SOON_MS = 30_000;

export class DriftCheck implements Loop {
  private readonly loop: Periodic;
  private readonly checkSoon: OneShot;
  private stopped = false;

  constructor(private readonly deps: DriftCheckDeps) {
    this.loop = new Periodic(deps.clock, deps.intervalMs, () => void this.check());
    this.checkSoon = new OneShot(deps.clock);
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.stopped = true;
    this.loop.stop();
    this.checkSoon.stop();
  }

  /**
   * One comparison CHECK_SOON_MS from now, whatever the period (0 included): a start took
   * frr.conf as running on the verified record's word, which compares bgpd only; this compares
   * every daemon, off the start's path.
   */
  soon(): void {
    if (this.stopped) return;
    this.checkSoon.arm(CHECK_SOON_MS, () => {
      void this.check();
    });
  }

  /** One comparison; a failed one is logged and the next period tries again. */
  async check(): Promise<void> {
    const token = this.deps.inStep();
    if (token === undefined) return;
    let d: ReloadDiff;
    try {
      d = await this.deps.diff();
    } catch (err) {
      this.deps.log.warn({ err: String(err) }, "drift check failed");
      return;
    }
    if (isEmptyDiff(d) || this.deps.inStep() !== token) return;
    this.deps.log.warn(
      { add: d.toAdd.length, delete: d.toDelete.length },
      "FRR's running config drifted from frr.conf; re-applying",
    );
    this.deps.requestFullApply();
  }
}
