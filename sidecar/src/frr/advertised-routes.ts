// Reads what bgpd actually sends a peer: `show bgp <afi> unicast neighbors PEER advertised-routes`
// → the set of prefixes. The read-back compares it with what the model wants announced. The text
// form first: at 10k routes bgpd writes it in a tenth of the time the JSON form takes (14 vs
// 130 ms, FRR 8.4), and bgpd serves no change meanwhile; the JSON form when the text does not add
// up to its own total.

/**
 * A prefix as bgpd prints it in a table's Network column: the only word with a slash on a route's
 * line (the next hop, with or without the peer's name after it, and the AS path have none).
 */
const PREFIX = /(?<=^|\s)[0-9A-Fa-f.:]+\/\d{1,3}(?=\s|$)/gm;
const TOTAL = /^Total number of prefixes (\d+)/m;

/**
 * Prefixes in an advertised-routes text answer: the words with a slash after the column header
 * (FRR 8.4 and 10.x differ in indentation and in how they wrap a long prefix or next hop, not in
 * that). Undefined when there is no table or it does not hold as many prefixes
 * as its "Total number of prefixes" line says.
 */
export function parseAdvertisedRoutesText(text: string): Set<string> | undefined {
  const total = TOTAL.exec(text);
  const header = /^\s*Network\s+Next Hop/m.exec(text);
  if (total === null || header === null || total.index < header.index) return undefined;
  const prefixes = new Set<string>();
  for (const m of text.slice(header.index, total.index).matchAll(PREFIX)) prefixes.add(m[0]);
  return prefixes.size === Number(total[1]) ? prefixes : undefined;
}

/** Prefixes in an advertised-routes JSON answer (FRR 8.4 and 10.x key them by prefix). */
export function parseAdvertisedRoutes(json: unknown): Set<string> {
  const routes = (json as { advertisedRoutes?: unknown } | null)?.advertisedRoutes;
  if (typeof routes !== "object" || routes === null) return new Set();
  return new Set(Object.keys(routes));
}

export function advertisedRoutesCommand(
  family: "ipv4" | "ipv6",
  peer: string,
  form: "text" | "json",
): string {
  // The peer comes from bgpd's own summary (an address or an interface name), never from the cluster.
  if (!/^[0-9A-Za-z.:_-]+$/.test(peer)) throw new Error(`not a BGP peer name: ${JSON.stringify(peer)}`);
  return `show bgp ${family} unicast neighbors ${peer} advertised-routes${form === "json" ? " json" : ""}`;
}
