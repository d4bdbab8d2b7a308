// A Clock for unit tests: time moves only when the test says so; the timers due on the way fire
// in time order, each followed by the promise jobs it started (fakes that resolve at once).

import type { Cancel, Clock } from "./clock.js";

interface Timer {
  at: number;
  /** Arming order: timers due at the same time fire in the order they were (re-)armed. */
  seq: number;
  readonly period: number | undefined;
  readonly fn: () => void;
}

export class FakeClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Set<Timer>();

  constructor(start = 0) {
    this.time = start;
  }

  readonly now = (): number => this.time;

  readonly after = (ms: number, fn: () => void): Cancel => this.arm(Math.max(0, ms), undefined, fn);

  readonly every = (ms: number, fn: () => void): Cancel => this.arm(ms, Math.max(1, ms), fn);

  /** Timers armed and not yet fired (one-shot) or cancelled. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, earliest first. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (let next = this.due(end); next !== undefined; next = this.due(end)) {
      this.time = next.at;
      if (next.period === undefined) this.timers.delete(next);
      else {
        next.at += next.period;
        next.seq = this.seq++;
      }
      next.fn();
      await settle();
    }
    this.time = end;
    await settle();
  }

  private arm(ms: number, period: number | undefined, fn: () => void): Cancel {
    const timer: Timer = { at: this.time + ms, seq: this.seq++, period, fn };
    this.timers.add(timer);
    return () => {
      this.timers.delete(timer);
    };
  }

  private due(end: number): Timer | undefined {
    let first: Timer | undefined;
    for (const t of this.timers)
      if (t.at <= end && (first === undefined || t.at < first.at || (t.at === first.at && t.seq < first.seq)))
        first = t;
    return first;
  }
}

/** Lets the promise jobs already started run to their end (I/O fakes that resolve at once). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
