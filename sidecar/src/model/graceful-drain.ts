// PURE: the graceful drain of a node (RFC 8326). When this node starts draining (annotation,
// exclusion label, cordon with the option, drain switch), what it advertises stays advertised for
// a while with the GRACEFUL_SHUTDOWN community, so the peers move traffic to other paths before
// the routes are withdrawn. SIGTERM does the same in the shutdown drain.

import type { DesiredState, GracefulDrain, ReasonCode } from "./desired-state-types.js";

export interface GracefulDrainSettings {
  readonly enabled: boolean;
  readonly waitMs: number;
}

export interface GracefulDrainOutcome {
  readonly state: DesiredState;
  readonly drain: GracefulDrain | undefined;
}

const NODE_DRAIN: ReadonlySet<ReasonCode> = new Set<ReasonCode>(["node-draining", "node-excluded"]);

/**
 * `advertised`: what FRR was last given; `drain`: the graceful drain under way, if any. While it
 * lasts, the state keeps the advertised prefixes and says `gracefulShutdown`; once `waitMs` is
 * over, the drain's withdrawals apply. A drain that ends meanwhile ends the wait.
 */
export function guardNodeDrain(
  input: {
    readonly advertised: DesiredState | undefined;
    readonly next: DesiredState;
    readonly drain: GracefulDrain | undefined;
    readonly now: number;
  },
  settings: GracefulDrainSettings,
): GracefulDrainOutcome {
  const { advertised, next, drain, now } = input;
  const pass = { state: next, drain: undefined };
  if (!settings.enabled || settings.waitMs === 0 || !drains(next)) return pass;
  // Nothing to move away from: no wait (the state after a drain's wait lands here too).
  const held = advertised?.prefixes;
  if (held === undefined || held.length === 0) return pass;
  const since = drain?.since ?? now;
  if (now - since >= settings.waitMs) return pass;
  const current: GracefulDrain = { since, until: since + settings.waitMs, prefixes: held };
  return {
    state: {
      ...next,
      prefixes: held,
      attributeSets: advertised?.attributeSets ?? next.attributeSets,
      gracefulDrain: current,
    },
    drain: current,
  };
}

/** The model decided this node advertises nothing because it drains (every decision says so). */
function drains(state: DesiredState): boolean {
  return state.decisions.length > 0 && state.decisions.every((d) => NODE_DRAIN.has(d.code));
}
