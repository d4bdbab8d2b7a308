// Reads what bgpd actually sends a peer: `show bgp <afi> unicast neighbors PEER advertised-routes
// json` → the set of prefixes. The read-back compares it with what the model wants announced.

/** Prefixes in an advertised-routes JSON answer (FRR 8.4 and 10.x key them by prefix). */
export function parseAdvertisedRoutes(json: unknown): Set<string> {
  const routes = (json as { advertisedRoutes?: unknown } | null)?.advertisedRoutes;
  if (typeof routes !== "object" || routes === null) return new Set();
  return new Set(Object.keys(routes));
}

export function advertisedRoutesCommand(family: "ipv4" | "ipv6", peer: string): string {
  // The peer comes from bgpd's own summary (an address or an interface name), never from the cluster.
  if (!/^[0-9A-Za-z.:_-]+$/.test(peer)) throw new Error(`not a BGP peer name: ${JSON.stringify(peer)}`);
  return `show bgp ${family} unicast neighbors ${peer} advertised-routes json`;
}
