// Which Services claim which prefix, kept up to date one Service at a time, and what that changes
// for the node: a prefix appears, goes, or moves to other attributes. The fast path of a pass
// reads these changes instead of combining every Service again; the winner rule is the one
// combineEvaluations uses (claimWinner), so both paths decide alike.

import { attributesKey } from "./attribute-sets.js";
import type { BgpAttributes } from "./desired-state-types.js";
import type { IpAddress } from "./ip.js";
import type { IpFamily } from "./snapshot.js";

export interface Claim {
  readonly service: string;
  readonly wanted: {
    readonly ip: IpAddress;
    readonly prefix: string;
    readonly attributes: BgpAttributes | undefined;
  };
}

/**
 * One IP wanted by several Services is advertised once, with the attributes of the Service whose
 * "ns/name" sorts first (stable whatever the input order).
 */
export function claimWinner<C extends Claim>(claims: Iterable<C>): C | undefined {
  let winner: C | undefined;
  for (const claim of claims) if (winner === undefined || claim.service < winner.service) winner = claim;
  return winner;
}

export interface PrefixChange {
  readonly prefix: string;
  readonly address: string;
  readonly family: IpFamily;
  /** attributesKey of what was advertised before ("" = no attributes); undefined: not advertised. */
  readonly before: string | undefined;
  /** The same for now. */
  readonly after: string | undefined;
}

export class PrefixClaims {
  /** prefix → service → its claim. */
  private readonly claims = new Map<string, Map<string, Claim>>();
  /** What each Service claims now (to undo it when the Service changes). */
  private readonly byService = new Map<string, readonly Claim["wanted"][]>();
  /** Prefixes touched since take(), with what was advertised for them before. */
  private readonly touched = new Map<string, string | undefined>();
  /** The parsed IP of every advertised prefix (a withdrawn one is described by its last claim). */
  private readonly lastIp = new Map<string, IpAddress>();
  /** Every attributes key in use → number of advertised prefixes using it. */
  private readonly keysInUse = new Map<string, number>();

  /** Replaces everything `service` claims (an empty list: the Service is gone or claims nothing). */
  set(service: string, wanted: readonly Claim["wanted"][]): void {
    const before = this.byService.get(service) ?? [];
    for (const w of [...before, ...wanted]) {
      if (!this.touched.has(w.prefix)) this.touched.set(w.prefix, this.advertisedKey(w.prefix));
    }
    for (const w of before) {
      const claims = this.claims.get(w.prefix);
      claims?.delete(service);
      if (claims?.size === 0) this.claims.delete(w.prefix);
    }
    for (const w of wanted) {
      let claims = this.claims.get(w.prefix);
      if (claims === undefined) {
        claims = new Map();
        this.claims.set(w.prefix, claims);
      }
      claims.set(service, { service, wanted: w });
    }
    if (wanted.length === 0) this.byService.delete(service);
    else this.byService.set(service, wanted);
  }

  /** Forgets everything (a full re-evaluation follows). */
  clear(): void {
    this.claims.clear();
    this.byService.clear();
    this.touched.clear();
    this.keysInUse.clear();
    this.lastIp.clear();
  }

  /** True when some advertised prefix uses these attributes ("" = none) now. */
  inUse(key: string): boolean {
    return (this.keysInUse.get(key) ?? 0) > 0;
  }

  /** The prefixes whose advertisement changed since the last take(), and resets the record. */
  take(): PrefixChange[] {
    const changes: PrefixChange[] = [];
    for (const [prefix, before] of this.touched) {
      const change = this.changeOf(prefix, before);
      if (change !== undefined) changes.push(change);
    }
    this.touched.clear();
    return changes;
  }

  /** What changed for one touched prefix (undefined: nothing), keeping the counts and IPs current. */
  private changeOf(prefix: string, before: string | undefined): PrefixChange | undefined {
    const winner = claimWinner(this.claims.get(prefix)?.values() ?? []);
    const ip = winner?.wanted.ip ?? this.lastIp.get(prefix);
    if (winner === undefined) this.lastIp.delete(prefix);
    else this.lastIp.set(prefix, winner.wanted.ip);
    const after = winner === undefined ? undefined : attributesKey(winner.wanted.attributes);
    if (before === after || ip === undefined) return undefined;
    this.count(before, -1);
    this.count(after, 1);
    return { prefix, address: ip.text, family: ip.family, before, after };
  }

  private advertisedKey(prefix: string): string | undefined {
    const winner = claimWinner(this.claims.get(prefix)?.values() ?? []);
    return winner === undefined ? undefined : attributesKey(winner.wanted.attributes);
  }

  private count(key: string | undefined, by: number): void {
    if (key === undefined) return;
    const n = (this.keysInUse.get(key) ?? 0) + by;
    if (n <= 0) this.keysInUse.delete(key);
    else this.keysInUse.set(key, n);
  }
}
