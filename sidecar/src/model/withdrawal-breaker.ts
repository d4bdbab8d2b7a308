// PURE: the mass-withdrawal breaker. A pass that would withdraw a large share of what the node
// advertises, for a reason other than endpoint health or an explicit drain of this node (an
// empty list, deleted Services, a vanished Node object, a config change), keeps those prefixes
// advertised for a hold time and lets them go only if the state is still the same then.

import { compareStrings } from "./attribute-sets.js";
import type {
  AdvertisedPrefix,
  AttributeSet,
  DesiredState,
  ReasonCode,
  WithdrawalHold,
} from "./desired-state-types.js";
import { compareIps, parseIp } from "./ip.js";

export interface BreakerSettings {
  readonly enabled: boolean;
  /** A pass may withdraw at most this share (0–1) of the advertised prefixes without holding… */
  readonly maxWithdrawShare: number;
  /** …and a hold needs at least this many such withdrawals. */
  readonly minWithdrawals: number;
  readonly holdMs: number;
}

/** The breaker is open: these withdrawals are held since `since`. */
export type BreakerHold = WithdrawalHold;

export interface BreakerOutcome {
  /** What to apply: `next`, plus the held prefixes while the breaker holds. */
  readonly state: DesiredState;
  readonly hold: BreakerHold | undefined;
  /** True on the pass whose hold time ran out: the withdrawals go now. */
  readonly released: boolean;
}

/** Withdrawals for these reasons are never held: the endpoints are gone, or this node drains. */
const EXPLAINED: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  "no-ready-endpoints",
  "no-local-ready-endpoints",
  "node-draining",
  "node-excluded",
]);

export interface BreakerInput {
  /** The state FRR was last given (undefined: nothing applied yet, nothing to guard). */
  readonly advertised: DesiredState | undefined;
  readonly next: DesiredState;
  /** The breaker's current hold, if any. */
  readonly hold: BreakerHold | undefined;
  readonly now: number;
}

export function guardWithdrawals(input: BreakerInput, settings: BreakerSettings): BreakerOutcome {
  const { advertised, next, hold, now } = input;
  const pass: BreakerOutcome = { state: next, hold: undefined, released: false };
  if (!settings.enabled || advertised === undefined || advertised.prefixes.length === 0) return pass;
  const unexplained = unexplainedWithdrawals(advertised, next);
  const large =
    unexplained.length >= settings.minWithdrawals &&
    unexplained.length > settings.maxWithdrawShare * advertised.prefixes.length;
  if (!large) return pass;
  const since = hold?.since ?? now;
  if (now - since >= settings.holdMs) return { ...pass, released: true };
  const held = unexplained;
  const newHold: BreakerHold = {
    since,
    until: since + settings.holdMs,
    held,
    advertised: advertised.prefixes.length,
    reason: describe(held, next),
  };
  return {
    state: { ...withHeld(next, held, advertised.attributeSets), withdrawalHold: newHold },
    hold: newHold,
    released: false,
  };
}

/**
 * Advertised prefixes `next` drops for a reason that is neither health nor a drain of this node:
 * no Service decides its address for such a reason now (a deleted Service decides nothing).
 */
function unexplainedWithdrawals(advertised: DesiredState, next: DesiredState): AdvertisedPrefix[] {
  const kept = new Set(next.prefixes.map((p) => p.prefix));
  const explained = new Set<string>();
  for (const d of next.decisions) if (EXPLAINED.has(d.code)) explained.add(d.address);
  return advertised.prefixes.filter((p) => !kept.has(p.prefix) && !explained.has(p.address));
}

function withHeld(
  next: DesiredState,
  held: readonly AdvertisedPrefix[],
  sets: readonly AttributeSet[],
): DesiredState {
  const setsByName = new Map(next.attributeSets.map((s) => [s.name, s]));
  for (const p of held) {
    if (p.attributeSet === undefined || setsByName.has(p.attributeSet)) continue;
    const set = sets.find((s) => s.name === p.attributeSet);
    if (set !== undefined) setsByName.set(set.name, set);
  }
  return {
    ...next,
    prefixes: [...next.prefixes, ...held].sort(comparePrefixes),
    attributeSets: [...setsByName.values()].sort((a, b) => compareStrings(a.name, b.name)),
  };
}

/** The model's order: IPv4 before IPv6, then by address. */
function comparePrefixes(a: AdvertisedPrefix, b: AdvertisedPrefix): number {
  const x = parseIp(a.address);
  const y = parseIp(b.address);
  return x.ok && y.ok ? compareIps(x.value, y.value) : compareStrings(a.address, b.address);
}

/** "Service gone" vs "Service here, not advertised (reason code)", counted, for logs and Events. */
function describe(held: readonly AdvertisedPrefix[], next: DesiredState): string {
  // Indexed once: a hold at 10k Services would otherwise scan every decision per held prefix.
  const services = new Set(next.decisions.map((d) => d.service));
  const codeOf = new Map(next.decisions.map((d) => [`${d.service}\u0000${d.address}`, d.code]));
  const codes = new Map<string, number>();
  for (const p of held) {
    const present = p.services.find((s) => services.has(s));
    const code =
      present === undefined ? "Service gone" : (codeOf.get(`${present}\u0000${p.address}`) ?? "not wanted");
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  return [...codes.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${n} ${code}`)
    .join(", ");
}
