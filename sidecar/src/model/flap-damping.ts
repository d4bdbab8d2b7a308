// Flap damping per Service: a withdrawal always goes at once (no black hole), but a Service
// whose announcement went away more than `maxFlaps` times within `windowMs` is re-announced only
// once it has wanted announcing without a break for a backoff that doubles with every further
// flap (capped). Time is passed in; the damper keeps each Service's recent withdrawals.

import type { Decision } from "./desired-state-types.js";
import type { ServiceEvaluation } from "./desired-state.js";

export interface DampingSettings {
  readonly enabled: boolean;
  /** More withdrawals than this within the window make a Service flapping. */
  readonly maxFlaps: number;
  readonly windowMs: number;
  /** Backoff after the first flap too many; doubles with each further one, up to maxBackoffMs. */
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
}

interface History {
  /** When its announcement went away, within the window. */
  withdrawals: number[];
  /** Since when it wants announcing without a break (undefined: it does not). */
  wantedSince: number | undefined;
  /** Set while its re-announcement waits. */
  backoffMs: number | undefined;
}

export interface Damped {
  readonly evaluation: ServiceEvaluation;
  /** When to evaluate this Service again (its backoff may end then); undefined: no need. */
  readonly recheckAt: number | undefined;
}

export class FlapDamper {
  /** Services whose last evaluation (before damping) wanted announcing. */
  private readonly wanted = new Set<string>();
  /** Only Services with a recent withdrawal or a backoff: memory stays O(flapping Services). */
  private readonly histories = new Map<string, History>();

  constructor(private readonly settings: DampingSettings) {}

  /** `evaluation` as it may be applied now; remembers its withdrawals. */
  apply(evaluation: ServiceEvaluation, now: number): Damped {
    const pass = { evaluation, recheckAt: undefined };
    if (!this.settings.enabled) return pass;
    const key = evaluation.service;
    const wantsNow = evaluation.prefixes.length > 0;
    const wantedBefore = this.wanted.has(key);
    if (wantsNow) this.wanted.add(key);
    else this.wanted.delete(key);
    const h = this.historyFor(key, wantsNow, wantedBefore);
    if (h === undefined) return pass;
    h.withdrawals = h.withdrawals.filter((t) => now - t < this.settings.windowMs);
    if (!wantsNow) {
      if (wantedBefore) h.withdrawals.push(now);
      h.wantedSince = undefined;
      return pass;
    }
    if (!wantedBefore) h.wantedSince = now;
    const until = this.backoffEnd(h, now);
    if (until === undefined) {
      if (h.withdrawals.length === 0) this.histories.delete(key);
      return pass;
    }
    return {
      evaluation: held(evaluation, h.withdrawals.length, this.settings.windowMs, until),
      recheckAt: until,
    };
  }

  /** Its history; undefined when it has none and needs none (nothing went away). */
  private historyFor(key: string, wantsNow: boolean, wantedBefore: boolean): History | undefined {
    const h = this.histories.get(key);
    if (h !== undefined || wantsNow || !wantedBefore) return h;
    const created: History = { withdrawals: [], wantedSince: undefined, backoffMs: undefined };
    this.histories.set(key, created);
    return created;
  }

  /** When a Service that wants announcing may be announced; undefined: now. */
  private backoffEnd(h: History, now: number): number | undefined {
    const excess = h.withdrawals.length - this.settings.maxFlaps;
    if (excess > 0)
      h.backoffMs = Math.min(this.settings.baseBackoffMs * 2 ** (excess - 1), this.settings.maxBackoffMs);
    const since = h.wantedSince ?? now;
    if (h.backoffMs === undefined || now - since >= h.backoffMs) {
      h.backoffMs = undefined;
      return undefined;
    }
    return since + h.backoffMs;
  }

  /** The Service is gone: nothing to remember. */
  forget(service: string): void {
    this.wanted.delete(service);
    this.histories.delete(service);
  }
}

function held(
  evaluation: ServiceEvaluation,
  flaps: number,
  windowMs: number,
  until: number,
): ServiceEvaluation {
  const reason =
    `not advertised: flap damping — its announcement went away ${flaps} times in ${windowMs / 1000} s; ` +
    `announced again once ready without a break until ${new Date(until).toISOString()}`;
  const decisions = evaluation.decisions.map((d): Decision =>
    d.advertise ? { ...d, advertise: false, code: "flap-damped", reason } : d,
  );
  return { ...evaluation, decisions, prefixes: [] };
}
