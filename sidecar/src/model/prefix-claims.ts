// Which Services claim which prefix, kept up to date one Service at a time, and what that changes
// for the node: a prefix appears, goes, or moves to other attributes. The fast path of a pass
// reads these changes instead of combining every Service again; the winner rule is the one
// combineEvaluations uses (claimWinner), so both paths decide alike.

import { attributesKey } from "./attribute-sets.js";
import { exactSize } from "./exact-size.js";
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
  /** The attributes `after` stands for (a new attribute set is rendered from them). */
  readonly afterAttributes: BgpAttributes | undefined;
}

export class PrefixClaims {
  /** prefix → the claims on it, one per Service. */
  private readonly claims = new Map<string, readonly Claim[]>();
  /** What each Service claims now (to undo it when the Service changes). */
  private readonly byService = new Map<string, readonly Claim["wanted"][]>();
  /** Prefixes touched since take(): what was advertised for them before, and their IP. */
  private readonly touched = new Map<
    string,
    { readonly before: string | undefined; readonly ip: IpAddress }
  >();

  /** Replaces everything `service` claims (an empty list: the Service is gone or claims nothing). */
  set(service: string, wanted: readonly Claim["wanted"][]): void {
    const before = this.byService.get(service) ?? [];
    for (const w of [...before, ...wanted]) {
      if (!this.touched.has(w.prefix))
        this.touched.set(w.prefix, { before: this.advertisedKey(w.prefix), ip: w.ip });
    }
    // An array per prefix, replaced on change: nearly every prefix has one claimant, and a Map
    // costs 184 bytes before its first entry (10k prefixes; docs/memory.md).
    for (const w of before) {
      const left = (this.claims.get(w.prefix) ?? []).filter((c) => c.service !== service);
      if (left.length === 0) this.claims.delete(w.prefix);
      else this.claims.set(w.prefix, exactSize(left));
    }
    for (const w of wanted) {
      const others = (this.claims.get(w.prefix) ?? []).filter((c) => c.service !== service);
      this.claims.set(w.prefix, exactSize([...others, { service, wanted: w }]));
    }
    if (wanted.length === 0) this.byService.delete(service);
    else this.byService.set(service, wanted);
  }

  /** Forgets everything (a full re-evaluation follows). */
  clear(): void {
    this.claims.clear();
    this.byService.clear();
    this.touched.clear();
  }

  /** The prefixes whose advertisement changed since the last take(), and resets the record. */
  take(): PrefixChange[] {
    const changes: PrefixChange[] = [];
    for (const [prefix, { before, ip }] of this.touched) {
      const winner = this.winner(prefix);
      const after = winner === undefined ? undefined : attributesKey(winner.wanted.attributes);
      if (before !== after)
        changes.push({
          prefix,
          address: ip.text,
          family: ip.family,
          before,
          after,
          afterAttributes: winner?.wanted.attributes,
        });
    }
    this.touched.clear();
    return changes;
  }

  private advertisedKey(prefix: string): string | undefined {
    const winner = this.winner(prefix);
    return winner === undefined ? undefined : attributesKey(winner.wanted.attributes);
  }

  private winner(prefix: string): Claim | undefined {
    return claimWinner(this.claims.get(prefix) ?? []);
  }
}
