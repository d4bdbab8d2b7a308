// Reads BGP session state from `show bgp summary json` into plain rows (peer, family, up,
// prefixes sent) for metrics and readiness. Tolerant: unknown shapes give no rows.

import { compareStrings } from "../model/attribute-sets.js";

export interface SessionStatus {
  readonly peer: string;
  readonly family: "ipv4" | "ipv6";
  readonly established: boolean;
  readonly prefixesSent: number;
}

interface PeerJson {
  readonly state?: unknown;
  readonly pfxSnt?: unknown;
}

export function parseBgpSummary(summary: unknown): SessionStatus[] {
  if (typeof summary !== "object" || summary === null) return [];
  const rows: SessionStatus[] = [];
  for (const [afi, data] of Object.entries(summary as Record<string, unknown>)) {
    const family = afi.startsWith("ipv6") ? "ipv6" : afi.startsWith("ipv4") ? "ipv4" : undefined;
    const peers = (data as { peers?: unknown } | null)?.peers;
    if (family === undefined || typeof peers !== "object" || peers === null) continue;
    for (const [peer, p] of Object.entries(peers as Record<string, PeerJson>)) {
      rows.push({
        peer,
        family,
        established: p.state === "Established",
        prefixesSent: typeof p.pfxSnt === "number" ? p.pfxSnt : 0,
      });
    }
  }
  return rows.sort((a, b) => compareStrings(a.peer, b.peer) || compareStrings(a.family, b.family));
}
