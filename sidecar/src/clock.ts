// The sidecar's one source of time and timers: its loops take a Clock so that tests drive them
// with a fake one (time moved by hand) instead of sleeping.

/** Cancels a timer; calling it again, or after a one-shot timer fired, does nothing. */
export type Cancel = () => void;

export interface Clock {
  /** Milliseconds, comparable to Date.now(). */
  readonly now: () => number;
  /** Runs `fn` once after `ms`. */
  readonly after: (ms: number, fn: () => void) => Cancel;
  /** Runs `fn` every `ms` until cancelled. */
  readonly every: (ms: number, fn: () => void) => Cancel;
}

/**
 * Node's timers. Unref'd: what keeps the process alive is its HTTP server until the drain has
 * finished, never a pending timer (a timer that did would hold up the exit after the drain).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, Math.max(0, ms)).unref();
    return () => {
      clearTimeout(t);
    };
  },
  every: (ms, fn) => {
    const t = setInterval(fn, ms).unref();
    return () => {
      clearInterval(t);
    };
  },
};

/** A sleep on `clock` (ms ≤ 0 resolves on the next timer turn). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}

/**
 * At most one pending run of a callback on `clock`: arming again replaces the pending run, and
 * the timer knows whether one is pending (cleared when it fires).
 */
export class OneShot {
  private cancel: Cancel | undefined;

  constructor(private readonly clock: Clock) {}

  get armed(): boolean {
    return this.cancel !== undefined;
  }

  /** Runs `fn` in `ms` (≥ 0) instead of whatever was pending. */
  arm(ms: number, fn: () => void): void {
    this.stop();
    const cancel = this.clock.after(Math.max(0, ms), () => {
      if (this.cancel === cancel) this.cancel = undefined;
      fn();
    });
    this.cancel = cancel;
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }
}

/** What run's lifecycle starts after wiring and stops at the drain. */
export interface Loop {
  start(): void;
  stop(): void;
}

/** `tick` every `intervalMs` between start() and stop(); an interval of 0 means never. */
export class Periodic implements Loop {
  private cancel: Cancel | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly tick: () => void,
  ) {}

  start(): void {
    if (this.cancel !== undefined || this.intervalMs <= 0) return;
    this.cancel = this.clock.every(this.intervalMs, this.tick);
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }
}
