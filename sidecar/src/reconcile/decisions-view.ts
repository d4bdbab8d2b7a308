// PURE: the running node's decisions as `GET /decisions` serves them (and `frr-advertiser why`
// reads them): one projection of the desired state, nothing decided here.

import type { DesiredState } from "../model/desired-state-types.js";

export interface DecisionView {
  readonly service: string;
  readonly address: string;
  readonly kind: string;
  /** "advertise" or "withhold". */
  readonly verdict: "advertise" | "withhold";
  readonly code: string;
  readonly reason: string;
  /** The prefix the node advertises for it (present when it does, held withdrawals included). */
  readonly prefix?: string;
  /** The attribute set (route-map) it is announced with. */
  readonly attributeSet?: string;
  /** Weighted ECMP: the link-bandwidth weight the prefix is announced with (from its attribute set). */
  readonly weight?: number;
}

export interface DecisionsView {
  readonly node: string;
  /** Every prefix the node advertises now. */
  readonly prefixes: readonly string[];
  /** Withdrawals the mass-withdrawal breaker holds (ISO times). */
  readonly withdrawalHold?: {
    readonly until: string;
    readonly prefixes: readonly string[];
    readonly reason: string;
  };
  /** The node's graceful drain, while its routes wait with GRACEFUL_SHUTDOWN. */
  readonly gracefulDrain?: { readonly until: string };
  readonly decisions: readonly DecisionView[];
}

function weightOf(weight: number | undefined): { weight?: number } {
  return weight === undefined ? {} : { weight };
}

/** `service`: only that Service's decisions ("namespace/name"). */
export function decisionsView(node: string, state: DesiredState, service?: string): DecisionsView {
  const byAddress = new Map(state.prefixes.map((p) => [p.address, p]));
  const held = new Set(state.withdrawalHold?.held.map((p) => p.address) ?? []);
  const weights = new Map(state.attributeSets.map((s) => [s.name, s.attributes.linkBandwidth]));
  const decisions = state.decisions
    .filter((d) => service === undefined || d.service === service)
    .map((d): DecisionView => {
      const p = byAddress.get(d.address);
      // A held withdrawal is still advertised although its decision says otherwise.
      const advertised =
        p !== undefined && (d.advertise || held.has(d.address) || state.gracefulDrain !== undefined);
      return {
        service: d.service,
        address: d.address,
        kind: d.kind,
        verdict: d.advertise ? "advertise" : "withhold",
        code: d.code,
        reason: d.reason,
        ...(advertised ? { prefix: p.prefix } : {}),
        ...(advertised && p.attributeSet !== undefined ? { attributeSet: p.attributeSet } : {}),
        ...weightOf(advertised ? weights.get(p.attributeSet ?? "") : undefined),
      };
    });
  const hold = state.withdrawalHold;
  return {
    node,
    prefixes: state.prefixes.map((p) => p.prefix),
    ...(hold === undefined
      ? {}
      : {
          withdrawalHold: {
            until: new Date(hold.until).toISOString(),
            prefixes: hold.held.map((p) => p.prefix),
            reason: hold.reason,
          },
        }),
    ...(state.gracefulDrain === undefined
      ? {}
      : { gracefulDrain: { until: new Date(state.gracefulDrain.until).toISOString() } }),
    decisions,
  };
}
