// Turns SIGTERM/SIGINT into one "stop requested" promise, installed before anything else runs.
// Listeners stay registered for the life of the process: a repeated signal never cuts a drain short.

/**
 * Why `process.on` and never `process.once`: execa (cleanup: true) registers signal-exit's
 * listener while a child process runs. On a signal, signal-exit re-raises it with the default
 * action when it finds itself the only listener left — and a `once` listener has already
 * removed itself by then. A SIGTERM that arrived while `ip` or `frr-reload.py` ran therefore
 * killed the process in the middle of its drain. A listener that stays keeps signal-exit quiet.
 */
export interface StopSignals {
  /** Resolves with the first signal received. */
  readonly requested: Promise<NodeJS.Signals>;
  /** The first signal, once one arrived. */
  readonly received: NodeJS.Signals | undefined;
  /** Called for every further signal (the drain keeps going; the caller only logs it). */
  onRepeat(listener: (signal: NodeJS.Signals) => void): void;
}

export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export function installStopSignals(
  source: SignalSource = process,
  signals: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"],
): StopSignals {
  let received: NodeJS.Signals | undefined;
  let resolve: (s: NodeJS.Signals) => void = () => undefined;
  const requested = new Promise<NodeJS.Signals>((r) => {
    resolve = r;
  });
  const repeats: ((signal: NodeJS.Signals) => void)[] = [];
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received !== undefined) {
      for (const l of repeats) l(signal);
      return;
    }
    received = signal;
    resolve(signal);
  };
  for (const s of signals) source.on(s, onSignal);
  return {
    requested,
    get received() {
      return received;
    },
    onRepeat(listener) {
      repeats.push(listener);
    },
  };
}
