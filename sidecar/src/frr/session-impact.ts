// PURE: what a config change does to the BGP sessions, read from frr-reload.py's diff (the lines it
// would delete and add): per neighbour, reset (the session restarts), soft (a route refresh; the
// session stays), added, removed or untouched; plus the prefixes it announces and withdraws.
// The rules are bgpd's (8.4 and 10.x alike; docs/session-impact.md says which and why).

import type { ReloadDiff } from "./frr-client.js";
import { compareStrings } from "../model/attribute-sets.js";

export type Impact = "reset" | "soft" | "added" | "removed";

export interface PeerImpact {
  /** Neighbour address, interface or peer-group name, as frr.conf names it. */
  readonly peer: string;
  readonly impact: Impact;
  /** The changed lines that decided it ("+" added, "-" deleted). */
  readonly lines: readonly string[];
}

export interface ConfigImpact {
  readonly peers: readonly PeerImpact[];
  /** Changes that reset every session of the router (router-id, ASN, graceful-restart). */
  readonly resetsAll: readonly string[];
  readonly announced: readonly string[];
  readonly withdrawn: readonly string[];
  /** Other changed lines (route-maps, prefix-lists, …): no session restarts for them. */
  readonly other: readonly string[];
}

/**
 * Neighbour settings bgpd applies only by restarting the session (a NOTIFICATION "configuration
 * change", or a TCP reconnect). Everything else about a neighbour — route-maps, prefix-lists,
 * filter-lists, communities sent, next-hop-self, timers, description, bfd — applies with a route
 * refresh or on the next session, without a restart.
 */
const RESETTING = new Set([
  "remote-as",
  "interface",
  "local-as",
  "update-source",
  "ebgp-multihop",
  "ttl-security",
  "password",
  "port",
  "passive",
  "shutdown",
  "capability",
  "override-capability",
  "strict-capability-match",
  "dont-capability-negotiate",
  "disable-connected-check",
  "enforce-first-as",
  "solo",
  "peer-group",
  // Activating or deactivating an address family changes the capabilities the session negotiated.
  "activate",
  "route-reflector-client",
  "route-server-client",
  "addpath-tx-all-paths",
  "addpath-tx-bestpath-per-AS",
]);

/** Router-wide settings that restart every session. */
const RESETS_ALL = [/^bgp router-id /, /^bgp graceful-restart\b/, /^bgp cluster-id /];

/**
 * Context lines frr-reload.py prints before each changed line (one per line of its output:
 * `router bgp 64512`, ` address-family ipv4 unicast`, then `  no network …` or `  network …`):
 * they say where a line goes, not what changes.
 */
const CONTEXT = /^(router bgp \d+( vrf \S+)?|address-family \S+( \S+)?|exit-address-family|exit)$/;

interface PeerLines {
  readonly added: string[];
  readonly deleted: string[];
  reset: boolean;
}

/**
 * `routerRuns`: whether FRR runs a BGP router now. When it does not (the first apply, a restarted
 * FRR), no session exists, so nothing can be reset.
 */
export function configImpact(diff: ReloadDiff, routerRuns = true): ConfigImpact {
  const acc = new ImpactLines();
  for (const line of diff.toDelete) acc.visit(line, false);
  for (const line of diff.toAdd) acc.visit(line, true);
  const impact = acc.result();
  return routerRuns ? impact : { ...impact, resetsAll: [] };
}

/** Sorts each changed line into its kind. */
class ImpactLines {
  private readonly perPeer = new Map<string, PeerLines>();
  private readonly resetsAll: string[] = [];
  private readonly announced: string[] = [];
  private readonly withdrawn: string[] = [];
  private readonly other: string[] = [];

  visit(raw: string, added: boolean): void {
    const sign = added ? "+" : "-";
    if (CONTEXT.test(raw)) return;
    // Deletions come as the `no` form; a removed `no …` line (a default restored) is its own.
    const line = !added && raw.startsWith("no ") ? raw.slice(3) : raw;
    if (!added && /^router bgp \d+/.test(line)) {
      this.resetsAll.push(`- ${line}`); // the router goes (an ASN change): every session
      return;
    }
    const network = /^network (\S+)/.exec(line)?.[1];
    if (network !== undefined) (added ? this.announced : this.withdrawn).push(network);
    else if (/^neighbor \S+ \S+/.test(line)) this.neighbor(line, sign);
    else if (RESETS_ALL.some((r) => r.test(line))) this.resetsAll.push(`${sign} ${line}`);
    else this.other.push(`${sign} ${line}`);
  }

  private neighbor(line: string, sign: "+" | "-"): void {
    const [, peer = "", setting = ""] = /^neighbor (\S+) (\S+)/.exec(line) ?? [];
    const p = this.perPeer.get(peer) ?? { added: [], deleted: [], reset: false };
    this.perPeer.set(peer, p);
    (sign === "+" ? p.added : p.deleted).push(`${sign} ${line}`);
    if (RESETTING.has(setting)) p.reset = true;
  }

  result(): ConfigImpact {
    const peers = [...this.perPeer].map(([peer, p]) => peerImpact(peer, p));
    return {
      peers: peers.sort((a, b) => compareStrings(a.peer, b.peer)),
      resetsAll: this.resetsAll,
      announced: unique(this.announced).filter((p) => !this.withdrawn.includes(p)),
      withdrawn: unique(this.withdrawn).filter((p) => !this.announced.includes(p)),
      other: this.other,
    };
  }
}

/** A whole neighbour appears or goes when its `remote-as`/`interface` line is on one side only. */
function peerImpact(peer: string, p: PeerLines): PeerImpact {
  const lines = [...p.deleted, ...p.added];
  const defines = (ls: readonly string[]) => ls.some((l) => / (remote-as|interface)\b/.test(l));
  if (defines(p.added) && !defines(p.deleted)) return { peer, impact: "added", lines };
  if (defines(p.deleted) && !defines(p.added)) return { peer, impact: "removed", lines };
  return { peer, impact: p.reset ? "reset" : "soft", lines };
}

/** True when applying the change restarts a session that exists now. */
export function resetsSessions(impact: ConfigImpact): boolean {
  return impact.resetsAll.length > 0 || impact.peers.some((p) => p.impact === "reset");
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}
