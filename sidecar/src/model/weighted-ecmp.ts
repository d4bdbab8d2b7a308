// The weighted-ECMP rule: which announcements carry a link-bandwidth weight, and its value —
// proportional to this node's usable local endpoints, so the fabric splits traffic by endpoints.

import type { EndpointCounts } from "./endpoint-health.js";
import { DEFAULT_MAX_WEIGHT, type AdvertisePolicy } from "./policy.js";

/** FRR's `set extcommunity bandwidth` accepts 1..25600 (Mbit/s) in 8.4 and 10.3. */
export const MAX_LINK_BANDWIDTH = 25600;

/**
 * The weight a node announces for a Local-policy address: one Mbit/s of link bandwidth per usable
 * local endpoint — the ready ones, or, only when none is ready, the serving-terminating ones (the
 * same endpoints that keep the address advertised; endpoint-health.ts). Integers, so nothing is
 * rounded; at least 1 (an announced address always attracts some traffic) and at most `maxWeight`
 * (which bounds the route-maps per attribute set). Undefined when no endpoint is usable: then the
 * address is not advertised at all.
 */
export function weightedEcmpWeight(local: EndpointCounts, maxWeight: number): number | undefined {
  const usable = local.ready > 0 ? local.ready : local.servingTerminating;
  if (usable <= 0) return undefined;
  return Math.max(1, Math.min(usable, maxWeight, MAX_LINK_BANDWIDTH));
}

/** The annotation decides when present, else advertise.weightedEcmp.enabled (off by default). */
export function weightedEcmpEnabled(policy: AdvertisePolicy, annotation: boolean | undefined): boolean {
  return annotation ?? policy.weightedEcmp?.enabled ?? false;
}

export function maxWeightOf(policy: AdvertisePolicy): number {
  return policy.weightedEcmp?.maxWeight ?? DEFAULT_MAX_WEIGHT;
}
