// The read-back: compares what the model wants announced with what bgpd actually sends each
// established peer, and repairs a prefix that stays missing: re-announce it, then a full apply,
// then report it as unrepaired. It never decides what to announce; it only checks FRR did.
// Bgpd's count of routes sent stands in for the full list while it adds up (see countsVouch).

import { OneShot, systemClock, type Clock } from "../clock.js";
import type { SessionStatus } from "../frr/bgp-status.js";
import type { IpFamily } from "../model/snapshot.js";

export interface WantedPrefix {
  readonly prefix: string;
  readonly family: IpFamily;
}

export interface AnnouncementCheckDeps {
  /**
   * What FRR was told to announce (undefined: nothing applied yet). Asked again after each wait
   * for bgpd and not kept: it may be a live view of the reconciler's set (no 10k-entry copy
   * or desired state built per look).
   */
  readonly wanted: () => Iterable<WantedPrefix> | undefined;
  readonly sessions: () => Promise<readonly SessionStatus[]>;
  readonly advertised: (peer: string, family: IpFamily) => Promise<ReadonlySet<string>>;
  /** First repair: withdraw and re-add these prefixes' statements. */
  readonly reannounce: (prefixes: ReadonlySet<string>) => Promise<void>;
  /** Second repair: the whole config through frr-reload.py, then a soft refresh of the peers. */
  readonly fullApply: () => void;
  readonly report: (r: CheckReport) => void;
  /** Missing for this long counts as stuck (announcements take ≈ 0.1 s; a few seconds is wrong). */
  readonly stuckAfterMs: number;
  readonly onError?: (err: unknown) => void;
  /** Time and timers (tests pass their own); the system clock by default. */
  readonly clock?: Clock;
}

export interface CheckReport {
  /** Prefixes missing at some established peer for at least stuckAfterMs, sorted. */
  readonly stuck: readonly string[];
  /** Stuck after both repairs: left to the operator (metric, /readyz, Event). */
  readonly unrepaired: readonly string[];
  readonly repairs: { readonly reannounce: number; readonly fullApply: number };
  /** Prefixes that were stuck before and are advertised now. */
  readonly recovered: readonly string[];
}

/**
 * Every this many checks the routes are listed even when bgpd's counts add up: a missing prefix
 * and an extra route of the same peer cancel out in a count (at the default 10 s period: once
 * a minute).
 */
export const LIST_EVERY_CHECKS = 6;

/**
 * While changes are being applied, a listing is put off until they pause (the check
 * `checkWhenQuiet` schedules), for at most this long. Listing 10k routes holds bgpd for over a
 * hundred milliseconds on a slow machine, and a change sent meanwhile waits for it; under churn
 * bgpd's counts lag ours by the updates in flight, so they would ask for one at most checks.
 */
export const LISTING_DEFERRAL_MAX_MS = 60_000;

/** A check that learned nothing: its listing was put off. */
const DEFERRED = Symbol("deferred");

interface Missing {
  since: number;
  /** Repairs tried so far: 0 none, 1 re-announced, 2 full apply. */
  attempts: number;
  /** When the last repair was made: the next one waits another stuckAfterMs. */
  repairedAt: number;
}

export class AnnouncementCheck {
  private readonly missing = new Map<string, Missing>();
  private running = false;
  private readonly followUp: OneShot;
  private readonly quiet: OneShot;
  /**
   * peerKey → routes bgpd sent that peer beyond ours, learned from the last listing that
   * found none of ours missing. Absent: list the routes.
   */
  private readonly others = new Map<string, number>();
  /** Checks since the last one that listed every peer's routes. */
  private sinceListing = 0;
  /** When the last apply was reported (checkWhenQuiet), and how long after it counts as quiet. */
  private lastApplyAt = Number.NEGATIVE_INFINITY;
  private quietAfterMs = 0;
  /** When a listing was first put off since the last one made. */
  private deferredSince: number | undefined;

  private readonly clock: Clock;

  constructor(private readonly deps: AnnouncementCheckDeps) {
    this.clock = deps.clock ?? systemClock;
    this.followUp = new OneShot(this.clock);
    this.quiet = new OneShot(this.clock);
  }

  /** Prefixes currently past every repair. */
  get unrepaired(): string[] {
    return [...this.missing].filter(([, m]) => m.attempts >= 2 && this.age(m) >= 0).map(([p]) => p);
  }

  /** Runs one check now (skipped if one is running); schedules a follow-up while something is missing. */
  async check(): Promise<CheckReport | undefined> {
    if (this.running) return undefined;
    this.running = true;
    try {
      return await this.checkOnce();
    } catch (err) {
      // FRR busy or restarting: the next periodic check tries again.
      this.deps.onError?.(err);
      return undefined;
    } finally {
      this.running = false;
    }
  }

  /** A follow-up check in `delayMs`, unless one is already due sooner. */
  private checkSoon(delayMs: number): void {
    if (this.followUp.armed) return;
    this.followUp.arm(delayMs, () => {
      void this.check();
    });
  }

  /**
   * A check once applies have paused for `delayMs` (bgpd needs a moment to send): each apply
   * pushes it back. At 10k prefixes one read-back is a 10k-route answer from bgpd, which under
   * churn would hold up the next change every few seconds; while applies keep coming, the
   * periodic check (timings.announcementCheckSeconds) is the one that looks.
   */
  checkWhenQuiet(delayMs: number): void {
    this.lastApplyAt = this.now();
    this.quietAfterMs = delayMs;
    this.quiet.arm(delayMs, () => {
      void this.check();
    });
  }

  /** While anything is missing and not yet past every repair, look again when the next step is due. */
  private scheduleFollowUp(): void {
    const pending = [...this.missing.values()].filter((m) => m.attempts < 2 || this.age(m) < 0);
    if (pending.length === 0) return;
    this.checkSoon(Math.max(100, Math.min(...pending.map((m) => -this.age(m))) + 50));
  }

  stop(): void {
    this.followUp.stop();
    this.quiet.stop();
  }

  private now(): number {
    return this.clock.now();
  }

  /** ms past the point where the next step is due (negative: not yet). */
  private age(m: Missing): number {
    return this.now() - (m.attempts === 0 ? m.since : m.repairedAt) - this.deps.stuckAfterMs;
  }

  private async checkOnce(): Promise<CheckReport | undefined> {
    const notSent = await this.notAdvertised();
    // Put off until applies pause: nothing learned, nothing changes.
    if (notSent === DEFERRED) return undefined;
    if (notSent === undefined) {
      // Nothing applied (start, FRR restarting): what was missing before says nothing now.
      this.missing.clear();
      return undefined;
    }
    const recovered = this.forgetSentAgain(notSent);
    const now = this.now();
    for (const p of notSent)
      if (!this.missing.has(p)) this.missing.set(p, { since: now, attempts: 0, repairedAt: 0 });
    const due = [...this.missing].filter(([, m]) => this.age(m) >= 0);
    const toReannounce = new Set(due.filter(([, m]) => m.attempts === 0).map(([p]) => p));
    const toReload = due.filter(([, m]) => m.attempts === 1);
    if (toReannounce.size > 0) await this.deps.reannounce(toReannounce);
    if (toReload.length > 0) this.deps.fullApply();
    for (const [, m] of due)
      if (m.attempts < 2) {
        m.attempts++;
        m.repairedAt = now;
      }
    const report: CheckReport = {
      stuck: due.map(([p]) => p).sort(),
      unrepaired: this.unrepaired.sort(),
      repairs: { reannounce: toReannounce.size, fullApply: toReload.length > 0 ? 1 : 0 },
      recovered: recovered.sort(),
    };
    this.deps.report(report);
    this.scheduleFollowUp();
    return report;
  }

  /** Drops the prefixes bgpd sends again from `missing`; returns those a repair had been tried for. */
  private forgetSentAgain(notSent: ReadonlySet<string>): string[] {
    const recovered: string[] = [];
    for (const [p, m] of this.missing)
      if (!notSent.has(p)) {
        this.missing.delete(p);
        if (m.attempts > 0) recovered.push(p);
      }
    return recovered;
  }

  /**
   * Wanted prefixes some established peer of their family is not sent (undefined: nothing
   * applied; DEFERRED: a listing was needed and put off while changes are applied).
   */
  private async notAdvertised(): Promise<Set<string> | undefined | typeof DEFERRED> {
    if (this.deps.wanted() === undefined) return undefined;
    const out = new Set<string>();
    const sessions = (await this.deps.sessions()).filter((s) => s.established);
    // Counted once, as of the summary the sessions' counts come from.
    const ours = countByFamily(this.deps.wanted());
    const listAll = ++this.sinceListing >= LIST_EVERY_CHECKS;
    const toList = sessions.filter((s) => {
      const count = ours.get(s.family) ?? 0;
      return count > 0 && (listAll || !this.countsVouch(s, count));
    });
    // sinceListing stays where it is: a listing that was due is still due after the pause.
    if (toList.length > 0 && this.listingPutOff()) return DEFERRED;
    for (const s of toList) {
      const sent = await this.deps.advertised(s.peer, s.family);
      // What is wanted now, after the wait: FRR may have restarted meanwhile.
      const wanted = this.deps.wanted();
      if (wanted === undefined) return undefined;
      for (const prefix of this.missingAt(s, sent, wanted)) out.add(prefix);
    }
    if (listAll) this.sinceListing = 0;
    this.deferredSince = undefined;
    return out;
  }

  /**
   * True while a listing waits for applies to pause: changes were applied within the quiet
   * period, nothing is known to be missing (a repair needs the listing now), and no listing has
   * waited LISTING_DEFERRAL_MAX_MS yet (churn that never pauses still gets one).
   */
  private listingPutOff(): boolean {
    const now = this.now();
    if (this.missing.size > 0 || now - this.lastApplyAt >= this.quietAfterMs) return false;
    this.deferredSince ??= now;
    return now - this.deferredSince < LISTING_DEFERRAL_MAX_MS;
  }

  /**
   * The wanted prefixes of the session's family bgpd does not send its peer; a listing that
   * misses none teaches how many other routes the peer is sent (see countsVouch).
   */
  private missingAt(s: SessionStatus, sent: ReadonlySet<string>, wanted: Iterable<WantedPrefix>): string[] {
    let ours = 0;
    const missing: string[] = [];
    for (const w of wanted) {
      if (w.family !== s.family) continue;
      ours++;
      if (!sent.has(w.prefix)) missing.push(w.prefix);
    }
    if (missing.length === 0) this.others.set(peerKey(s), sent.size - ours);
    else this.others.delete(peerKey(s));
    return missing;
  }

  /**
   * True when bgpd's count of routes sent to the peer (`show bgp summary`) is exactly ours plus
   * the others the last complete listing found: then the 10k-route listing, which holds bgpd
   * (and a change waiting for it) for tens of milliseconds, is skipped.
   */
  private countsVouch(s: SessionStatus, ours: number): boolean {
    const others = this.others.get(peerKey(s));
    return others !== undefined && s.prefixesSent === ours + others;
  }
}

/** "family/peer": what `others` is kept by. */
function peerKey(s: SessionStatus): string {
  return `${s.family}/${s.peer}`;
}

function countByFamily(wanted: Iterable<WantedPrefix> | undefined): Map<IpFamily, number> {
  const n = new Map<IpFamily, number>();
  for (const w of wanted ?? []) n.set(w.family, (n.get(w.family) ?? 0) + 1);
  return n;
}
