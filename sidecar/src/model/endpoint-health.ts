// Counts a Service's usable endpoints from its EndpointSlices, cluster-wide and on one node.
// Owns the meaning of "healthy"; which scope applies to which address is desired-state's call.

import type { EndpointSliceSnapshot, EndpointSnapshot } from "./snapshot.js";

export interface EndpointCounts {
  /** Endpoints with conditions.ready true or unset. */
  readonly ready: number;
  /** Endpoints that are terminating but still serving (used only when none is ready). */
  readonly servingTerminating: number;
}

export interface ServiceHealth {
  readonly clusterWide: EndpointCounts;
  /** Only endpoints whose nodeName is this node. */
  readonly local: EndpointCounts;
}

/** FQDN slices carry names, not addresses a node could forward to. */
const IP_ADDRESS_TYPES: ReadonlySet<string> = new Set(["IPv4", "IPv6"]);

/**
 * Counts endpoints over all of the Service's slices; both address families count together, so
 * an IPv4 service IP is healthy when any endpoint of either family is ready.
 *
 * publishNotReadyAddresses needs no rule of its own: the EndpointSlice controller already
 * publishes such endpoints with ready=true, and we follow the slices as published (as kube-proxy does).
 */
export function countEndpoints(
  slices: readonly EndpointSliceSnapshot[],
  nodeName: string | undefined,
): ServiceHealth {
  const clusterWide = { ready: 0, servingTerminating: 0 };
  const local = { ready: 0, servingTerminating: 0 };
  for (const slice of slices) {
    if (!IP_ADDRESS_TYPES.has(slice.addressType)) continue;
    for (const endpoint of slice.endpoints) {
      const isLocal = nodeName !== undefined && endpoint.nodeName === nodeName;
      tally(clusterWide, endpoint);
      if (isLocal) tally(local, endpoint);
    }
  }
  return { clusterWide, local };
}

function tally(counts: { ready: number; servingTerminating: number }, endpoint: EndpointSnapshot): void {
  if (endpoint.addresses.length === 0) return;
  if (isReady(endpoint)) counts.ready += 1;
  else if (isServingTerminating(endpoint)) counts.servingTerminating += 1;
}

/** The API says an unknown (unset) ready condition is to be read as ready. */
function isReady(endpoint: EndpointSnapshot): boolean {
  return endpoint.ready === true || endpoint.ready === undefined;
}

/**
 * kube-proxy's ProxyTerminatingEndpoints rule: when no endpoint in scope is ready, endpoints that
 * are terminating but still serving (serving unset counts as serving) keep the route, so existing
 * connections drain during a rollout instead of being black-holed.
 */
function isServingTerminating(endpoint: EndpointSnapshot): boolean {
  return endpoint.terminating === true && endpoint.serving !== false;
}
