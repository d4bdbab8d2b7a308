// The level-triggered loop: an event only schedules; one reconcile at a time re-evaluates the
// Services that changed and applies in black-hole-free order (addresses added → FRR → addresses
// removed). A pass that only moves prefixes takes the fast path: the prefix changes go to FRR as
// statements shaped like the last render's, with no render of every prefix; a settle pass a
// moment later writes frr.conf and reports, and once changes pause renders once to check that
// FRR runs what the templates say (ADR 0019). Failures keep the last good config.

import { OneShot, systemClock, type Clock } from "../clock.js";
import type { Config } from "../config/load-config.js";
import { desiredStateFor, ServiceEvaluator, type ServiceEvaluation } from "../model/desired-state.js";
import type { Decision, DesiredState, GracefulDrain, WithdrawalHold } from "../model/desired-state-types.js";
import { guardWithdrawals, type BreakerOutcome, type BreakerSettings } from "../model/withdrawal-breaker.js";
import { FlapDamper } from "../model/flap-damping.js";
import { guardNodeDrain } from "../model/graceful-drain.js";
import { attributesKey } from "../model/attribute-sets.js";
import { PrefixClaims, type PrefixChange } from "../model/prefix-claims.js";
import {
  NetworkShapes,
  parseConf,
  type Placed,
  type RouteMapChanges,
  type RouteMapEntry,
} from "../frr/config-delta.js";
import { planFastPass, type FastPlan } from "./fast-plan.js";
import { toTemplateContext } from "../render/context.js";
import { renderFrrConf, type CompiledTemplates } from "../render/renderer.js";
import type { ApplyOutcome } from "../frr/config-applier.js";
import type { ClusterStore } from "../kube/cluster-store.js";

export interface FrrApplier {
  readonly appliedConfig: string | undefined;
  /** The attribute route-map entries FRR runs, by header (see ParsedConf.routeMaps). */
  readonly runningRouteMaps: ReadonlyMap<string, RouteMapEntry> | undefined;
  /** How many network statements FRR runs name each route-map. */
  readonly runningRouteMapUse: ReadonlyMap<string, number> | undefined;
  apply(text: string, full: boolean): Promise<ApplyOutcome>;
  /** Network statements changed without a render (the fast path); see ConfigApplier. */
  applyNetworkChanges(
    removed: readonly Placed[],
    added: readonly Placed[],
    routeMaps?: RouteMapChanges,
  ): Promise<void>;
  /** Writes `text` if it holds exactly what FRR runs; false: it does not (reload fully). */
  settle(text: string): Promise<boolean>;
  /** Writes frr.conf from the statements FRR runs, without a render; false: it cannot (render). */
  writeRunning(): Promise<boolean>;
}

/**
 * The settle pass runs once fast passes have been quiet this long (its render of every prefix
 * would otherwise hold up the next change)…
 */
export const SETTLE_QUIET_MS = 1000;
/** …but no later than this after the first unsettled fast pass, however busy the cluster. */
export const SETTLE_MAX_DELAY_MS = 5000;
/** A settle pass gives way to changes that arrive during it at most this often in a row. */
export const MAX_SETTLE_DEFERRALS = 3;
/**
 * A settle pass writes frr.conf from what FRR runs; it renders (and checks the render against
 * FRR) only once fast passes have been quiet for SETTLE_QUIET_MS, or under steady churn this
 * long after the first fast pass since the last render (ADR 0019).
 */
export const RENDER_CHECK_MAX_DELAY_MS = 60_000;

export interface AddressSync {
  /**
   * "add" adds missing desired addresses only; "remove" removes owned, undesired ones only.
   * trustLastListing: skip listing the interface when, by the last listing, there is nothing to do.
   */
  sync(
    desired: ReadonlySet<string>,
    phase: "add" | "remove",
    options?: { readonly trustLastListing?: boolean },
  ): Promise<void>;
  /**
   * The same step over only the addresses that may have changed (address → desired now), against
   * the last listing: O(changed). False when there is no listing to trust yet; the caller then
   * runs sync() with the whole set.
   */
  syncChanged(wanted: ReadonlyMap<string, boolean>, phase: "add" | "remove"): Promise<boolean>;
}

export interface ReconcileReport {
  /** "stopped": the drain began; the pass ended after the step in flight. */
  readonly outcome: "unchanged" | "applied" | "failed" | "waiting" | "stopped";
  /** Set when FRR was touched. */
  readonly frr?: ApplyOutcome["kind"];
  /** Prefixes changed by a fast pass (its state is reported by the settle pass that follows). */
  readonly prefixChanges?: number;
  /** A fast pass: the verdicts of the Services it re-evaluated (none: the Service is gone). */
  readonly services?: readonly { readonly service: string; readonly decisions: readonly Decision[] }[];
  readonly error?: string;
  readonly stage?: "render" | "addresses" | "frr";
  readonly durationMs: number;
  /**
   * The whole desired state, as current as the pass leaves it; undefined on a fast pass and on
   * any pass while fast changes wait for the settle pass (which reports it).
   */
  readonly state: DesiredState | undefined;
}

export interface ReconcilerDeps {
  readonly store: ClusterStore;
  readonly config: Config;
  /** The current (validated) templates; swapped by the template watcher. */
  readonly templates: () => CompiledTemplates;
  readonly applier: FrrApplier;
  readonly addresses: AddressSync;
  /** True once every watched resource has listed; nothing is applied before the first sync. */
  readonly isSynced: () => boolean;
  /**
   * False while FRR's daemons do not answer: nothing is applied then (a delta to a dead daemon
   * would fail over vty, and `vtysh -f` would even skip it silently and report success). The
   * liveness monitor requests a full apply when FRR is back. Default: always up.
   */
  readonly frrUp?: () => boolean;
  /** Network prefixes FRR runs now (first apply after start or FRR restart). */
  readonly runningNetworks: () => Promise<ReadonlySet<string>>;
  readonly report: (r: ReconcileReport) => void;
  /** The mass-withdrawal breaker started holding, released its hold, or the state recovered. */
  readonly onWithdrawalHold?: (event: WithdrawalHoldEvent) => void;
  /** Time and timers of the loop (tests pass their own); the system clock by default. */
  readonly clock?: Clock;
}

export interface WithdrawalHoldEvent {
  /** held: a hold began; released: it ran out and the withdrawals were applied; cleared: recovered. */
  readonly kind: "held" | "released" | "cleared";
  readonly hold: WithdrawalHold;
}

export class Reconciler {
  private readonly clock: Clock;
  private readonly evaluations = new Map<string, ServiceEvaluation>();
  private readonly evaluator: ServiceEvaluator;
  /** Who claims which prefix, kept current Service by Service: the fast path's prefix changes. */
  private readonly claims = new PrefixClaims();
  /** The last materialized desired state; see stateStale. */
  private state: DesiredState | undefined;
  /** Evaluations changed since `state` was built (built on demand: O(Services)). */
  private stateStale = false;
  /** How the current templates place a prefix, learned from the last render FRR got. */
  private shapes = NetworkShapes.none;
  /** attributesKey → attribute set name, for the sets FRR runs (last render, fast passes since). */
  private setNames = new Map<string, string>();
  /** Sets fast passes removed since the last render: their prefixes still count for the breaker. */
  private readonly retiredNames = new Map<string, string>();
  /** The addresses of the advertised prefixes, kept current by fast passes too. */
  private desiredAddresses = new Set<string>();
  /** A fast pass happened: a settle pass renders, writes frr.conf and reports. */
  private settleDue = false;
  private readonly settleTimer: OneShot;
  /**
   * The latest a settle pass may run: SETTLE_MAX_DELAY_MS after the first fast pass it follows.
   * Kept until a settle pass goes through, so one that gave way keeps its place.
   */
  private settleBy: number | undefined;
  /** Settle passes that gave way in a row (see givesWay). */
  private settleDeferrals = 0;
  /** When the last fast pass ran (deps.now): a settle pass this long after it renders. */
  private lastFastAt = Number.NEGATIVE_INFINITY;
  /**
   * Set by the first fast pass since FRR last got a render: the latest a settle pass renders and
   * checks the render against FRR, however busy the cluster (RENDER_CHECK_MAX_DELAY_MS).
   */
  private renderCheckBy: number | undefined;
  /** The Services the last refreshState re-evaluated. */
  private changedServices: readonly string[] = [];
  private lastText: string | undefined;
  /** The last render and the state it was made from (same templates). */
  private rendered: { readonly state: DesiredState; readonly text: string } | undefined;
  private needFull = true;
  /** Re-list the interface on the next pass (start, periodic drift repair); see addressesDue. */
  private needAddresses = true;
  /** Run the address steps on the next pass, trusting the last listing (a grace period ended). */
  private addressesDue = false;
  private failing = false;
  private failures = 0;
  /** The next pass (the batching window), when one is asked for and none runs. */
  private readonly passTimer: OneShot;
  private running: Promise<void> | undefined;
  private rerun = false;
  /**
   * When the last pass that acted on changes ended (deps.now); the batching window counts from
   * there. Not a settle pass that only wrote frr.conf or gave way: the window bounds the rate of
   * passes that events cause, and a change that waited for a settle pass has waited already
   * (at 10k Services a settle pass's steps took 40–60 ms each here, and the window added 50 more).
   */
  private lastPassEnd = Number.NEGATIVE_INFINITY;
  /** The pass in flight is a settle pass that applies nothing (see lastPassEnd). */
  private settleOnly = false;
  private stopped = false;
  /** Set while stop() waits: the pass in flight returns after its current step. */
  private cutShort = false;
  /** Network mode: address → when FRR was told to stop announcing it (address removal waits). */
  private readonly withdrawnAt = new Map<string, number>();
  /** Wakes the loop when the earliest grace period ends (one timer, re-armed per pass). */
  private readonly graceTimer: OneShot;
  /** The retry after a failed pass (one at a time: a later failure re-arms it). */
  private readonly retryTimer: OneShot;
  /** address → attribute set name it was last applied with ("" = none). */
  private lastAttributes = new Map<string, string>();
  /** The mass-withdrawal breaker's hold, while it holds. */
  private hold: WithdrawalHold | undefined;
  /** The last materialized state: what the breaker counts withdrawals against. */
  private baseline: DesiredState | undefined;
  /** What fast passes changed since the baseline (a burst of small passes adds up). */
  private fastLog: PrefixChange[] = [];
  private readonly holdTimer: OneShot;
  /** A hold ran out: the next pass materializes and applies whatever the breaker decides. */
  private holdDue = false;
  /** This node's graceful drain, while its routes wait with GRACEFUL_SHUTDOWN. */
  private drain: GracefulDrain | undefined;
  private readonly drainTimer: OneShot;
  private readonly damper: FlapDamper;
  /** Damped Services → when their backoff may end (they are evaluated again then). */
  private readonly rechecks = new Map<string, number>();
  private readonly recheckTimer: OneShot;

  constructor(private readonly deps: ReconcilerDeps) {
    this.clock = deps.clock ?? systemClock;
    this.passTimer = new OneShot(this.clock);
    this.settleTimer = new OneShot(this.clock);
    this.graceTimer = new OneShot(this.clock);
    this.retryTimer = new OneShot(this.clock);
    this.holdTimer = new OneShot(this.clock);
    this.drainTimer = new OneShot(this.clock);
    this.recheckTimer = new OneShot(this.clock);
    this.evaluator = new ServiceEvaluator(deps.config.policy);
    const d = deps.config.safety.flapDamping;
    this.damper = new FlapDamper({
      enabled: d.enabled,
      maxFlaps: d.maxFlaps,
      windowMs: d.windowSeconds * 1000,
      baseBackoffMs: d.baseBackoffSeconds * 1000,
      maxBackoffMs: d.maxBackoffSeconds * 1000,
    });
  }

  /** The current desired state (built on demand after fast passes). */
  get desiredState(): DesiredState | undefined {
    return this.materialize();
  }

  /**
   * The addresses whose prefixes FRR is told to announce, fast passes included (a pass adds its
   * own just before telling FRR): the desired state's addresses without building it. A live view.
   */
  get announcedAddresses(): ReadonlySet<string> {
    return this.desiredAddresses;
  }

  /** The mass-withdrawal breaker's hold, while it holds (cheap: for probes). */
  get withdrawalHold(): WithdrawalHold | undefined {
    return this.hold;
  }

  get healthy(): boolean {
    return !this.failing && this.deps.applier.appliedConfig !== undefined;
  }

  /**
   * Coalesces a burst of events into one reconcile. Leading edge: an event after a quiet period
   * (no pass within the batching window) runs at once (after the current tick's other events), so
   * an isolated change pays no window; events during or just after a pass wait until the window
   * since that pass has passed, which bounds the pass rate under churn.
   */
  schedule(delayMs?: number): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.rerun = true;
      return;
    }
    if (this.passTimer.armed) return;
    const window = this.deps.config.timings.batchWindowMs;
    const delay = delayMs ?? Math.max(0, this.lastPassEnd + window - this.now());
    this.passTimer.arm(delay, () => {
      this.running = this.reconcileOnce()
        .then(this.deps.report)
        .finally(() => {
          this.running = undefined;
          if (!this.settleOnly) this.lastPassEnd = this.now();
          if (this.rerun) {
            this.rerun = false;
            this.schedule();
          }
        });
    });
  }

  /** The next apply goes through frr-reload.py (templates/config changed, FRR restarted, resync). */
  requestFullApply(): void {
    this.needFull = true;
    this.schedule();
  }

  /** The next pass renders the current state, writes frr.conf and reports it (after fast passes). */
  requestSettle(): void {
    this.settleDue = true;
    this.schedule();
  }

  /** Re-list the interface's addresses on the next pass (periodic drift repair). */
  requestAddressRepair(): void {
    this.needAddresses = true;
    this.schedule();
  }

  /** Templates changed: every Service stays, only the render differs. */
  templatesChanged(): void {
    this.lastText = undefined;
    this.rendered = undefined;
    this.requestFullApply();
  }

  /**
   * Stops scheduling and waits for a reconcile in flight, which ends after its current step (one
   * ip batch, one FRR apply): the drain then starts from a known state within one step's time.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [
      this.passTimer,
      this.settleTimer,
      this.holdTimer,
      this.recheckTimer,
      this.drainTimer,
      this.graceTimer,
      this.retryTimer,
    ])
      t.stop();
    this.cutShort = true;
    try {
      await this.running;
    } finally {
      this.cutShort = false;
    }
  }

  /** A method, not a field read: stop() flips it while a pass awaits (no narrowing across awaits). */
  private isCutShort(): boolean {
    return this.cutShort;
  }

  /** Something besides a changed render asks for a pass (full apply, addresses, a retry, a hold). */
  private get workPending(): boolean {
    return this.needFull || this.needAddresses || this.addressesDue || this.failing || this.holdDue;
  }

  /** Nothing is applied before the first sync, nor while FRR does not answer (see deps.frrUp). */
  private get mustWait(): boolean {
    if (this.state === undefined && !this.stateStale && !this.deps.isSynced()) return true;
    return this.deps.frrUp?.() === false;
  }

  /** Builds the desired state from every evaluation, if they changed since it was last built. */
  private materialize(): DesiredState | undefined {
    if (this.stateStale) {
      const { store, config } = this.deps;
      const advertised = this.advertisedNow();
      const now = this.now();
      const wanted = desiredStateFor(this.evaluations.values(), store.node, config.policy);
      const drain = guardNodeDrain(
        { advertised, next: wanted, drain: this.drain, now },
        {
          enabled: config.safety.gracefulShutdown.enabled && config.mode === "network",
          waitMs: config.safety.gracefulShutdown.waitSeconds * 1000,
        },
      );
      this.noteDrain(drain.drain);
      const guarded = guardWithdrawals(
        { advertised, next: drain.state, hold: this.hold, now },
        this.breakerSettings,
      );
      this.noteHold(guarded);
      this.state = guarded.state;
      this.baseline = guarded.state;
      this.fastLog = [];
      this.stateStale = false;
    }
    return this.state;
  }

  /**
   * What the breaker counts withdrawals against: the baseline plus what fast passes announced
   * since. What they withdrew since stays in it, so a burst of small passes adds up to the same
   * count as one pass (and a hold re-announces those withdrawals too).
   */
  private advertisedNow(): DesiredState | undefined {
    const base = this.baseline;
    if (base === undefined || this.fastLog.length === 0) return base;
    const prefixes = new Map(base.prefixes.map((p) => [p.prefix, p]));
    const sets = new Map(base.attributeSets.map((s) => [s.name, s]));
    for (const c of this.fastLog) {
      if (c.after === undefined) continue;
      const name =
        c.after === "" ? undefined : (this.setNames.get(c.after) ?? this.retiredNames.get(c.after));
      prefixes.set(c.prefix, {
        prefix: c.prefix,
        address: c.address,
        family: c.family,
        attributeSet: name,
        services: [],
      });
      if (name !== undefined && c.afterAttributes !== undefined && !sets.has(name))
        sets.set(name, { name, attributes: c.afterAttributes });
    }
    return { ...base, prefixes: [...prefixes.values()], attributeSets: [...sets.values()] };
  }

  private get breakerSettings(): BreakerSettings {
    const b = this.deps.config.safety.withdrawalBreaker;
    return {
      enabled: b.enabled,
      maxWithdrawShare: b.maxWithdrawShare,
      minWithdrawals: b.minWithdrawals,
      holdMs: b.holdSeconds * 1000,
    };
  }

  /** Damped Services whose backoff may have ended: evaluated again by this pass. */
  private dueRechecks(): string[] {
    if (this.rechecks.size === 0) return [];
    const now = this.now();
    const due = [...this.rechecks].filter(([, at]) => at <= now).map(([key]) => key);
    for (const key of due) this.rechecks.delete(key);
    return due;
  }

  /** One timer for the earliest backoff end: it only makes sure a pass comes. */
  private recheckLater(key: string, at: number): void {
    this.rechecks.set(key, at);
    const next = Math.min(...this.rechecks.values());
    this.recheckTimer.arm(Math.max(0, next - this.now()) + 5, () => {
      this.schedule();
    });
  }

  /** A graceful drain began: a pass comes when its wait is over (the withdrawals go then). */
  private noteDrain(drain: GracefulDrain | undefined): void {
    const began = drain !== undefined && this.drain === undefined;
    this.drain = drain;
    if (!began) return;
    this.drainTimer.arm(Math.max(0, drain.until - this.now()) + 5, () => {
      this.holdDue = true;
      this.stateStale = true;
      this.schedule();
    });
  }

  /** A hold that ran out is decided again by this pass (its timer only makes sure a pass comes). */
  private checkHoldExpiry(): void {
    const until = Math.min(this.hold?.until ?? Infinity, this.drain?.until ?? Infinity);
    if (this.now() < until) return;
    this.holdDue = true;
    this.stateStale = true;
  }

  /** Tells hold transitions, and wakes the loop when a hold runs out. */
  private noteHold(out: BreakerOutcome): void {
    const before = this.hold;
    this.hold = out.hold;
    if (out.hold !== undefined && before === undefined) {
      this.deps.onWithdrawalHold?.({ kind: "held", hold: out.hold });
      const wait = Math.max(0, out.hold.until - this.now());
      this.holdTimer.arm(wait + 5, () => {
        this.holdDue = true;
        this.stateStale = true;
        this.schedule();
      });
    } else if (out.hold === undefined && before !== undefined) {
      this.holdTimer.stop();
      this.deps.onWithdrawalHold?.({ kind: out.released ? "released" : "cleared", hold: before });
    }
  }

  /**
   * Fast passes skip the breaker's full count, so they stop where theirs could reach it: while a
   * hold lasts, or once their withdrawals since the baseline could be a mass withdrawal.
   */
  private fastWithdrawalsFit(changes: readonly PrefixChange[]): boolean {
    if (this.hold !== undefined || this.drain !== undefined) return false;
    const b = this.breakerSettings;
    if (!b.enabled) return true;
    const gone = (cs: readonly PrefixChange[]): number => cs.filter((c) => c.after === undefined).length;
    const withdrawals = gone(this.fastLog) + gone(changes);
    const advertised = this.baseline?.prefixes.length ?? 0;
    return withdrawals < b.minWithdrawals || withdrawals <= b.maxWithdrawShare * advertised;
  }

  private now(): number {
    return this.clock.now();
  }

  async reconcileOnce(): Promise<ReconcileReport> {
    const started = this.now();
    this.settleOnly = false;
    const done = (r: Omit<ReconcileReport, "durationMs" | "state">): ReconcileReport => ({
      ...r,
      durationMs: this.now() - started,
      // After fast passes the last built state is out of date until the settle pass builds the
      // next: reported, it would tell Events and metrics the verdicts the fast passes replaced.
      state: this.stateStale ? undefined : this.state,
    });
    // Before refreshState: the changed Services stay dirty for the pass that may apply them.
    if (this.mustWait) return done({ outcome: "waiting" });
    this.checkHoldExpiry();
    const { changed, all } = this.refreshState();
    // Taken every pass: a slow pass renders everything anyway, so its changes are simply done.
    const changes = this.claims.take();
    if (this.state === undefined && !this.stateStale) return done({ outcome: "waiting" });
    const plan = changed ? this.fastPlan(all, changes) : undefined;
    if (plan !== undefined) {
      // Its state is reported by the settle pass that follows.
      return { ...(await this.fastApply(plan, changes, done)), state: undefined };
    }
    if (!changed && this.onlyAddressesDue()) return this.removeAfterGrace(done);
    return this.wholeStatePass(changed, done);
  }

  /** A pass over the whole desired state: the settle pass after fast passes, else the full path. */
  private async wholeStatePass(
    changed: boolean,
    done: (r: Omit<ReconcileReport, "durationMs" | "state">) => ReconcileReport,
  ): Promise<ReconcileReport> {
    const settling = this.settleDue;
    this.settleDue = false;
    if (!changed && !this.workPending && !settling) return done({ outcome: "unchanged" });
    const state = this.materialize();
    this.holdDue = false;
    if (state === undefined) return done({ outcome: "waiting" });
    return settling ? this.settlePass(state, done) : this.renderAndApply(state, done);
  }

  /** The render of `state` (a periodic address repair of an unchanged state reuses it: cheap at 10k). */
  private renderOnce(state: DesiredState): string {
    const text = this.rendered?.state === state ? this.rendered.text : this.render(state);
    this.rendered = { state, text };
    return text;
  }

  /** The full path: render every prefix and apply it, unless FRR and the interface have it already. */
  private async renderAndApply(
    state: DesiredState,
    done: (r: Omit<ReconcileReport, "durationMs" | "state">) => ReconcileReport,
  ): Promise<ReconcileReport> {
    let text: string;
    try {
      text = this.renderOnce(state);
    } catch (err) {
      return this.fail(done, "render", err);
    }
    // After fast passes FRR runs more than lastText says: only the applier knows what differs.
    const fastSinceRender = this.renderCheckBy !== undefined;
    if (text === this.lastText && !this.workPending && !fastSinceRender && !this.addressesDiffer(state))
      return done({ outcome: "unchanged" });
    return this.apply(state, text, done);
  }

  /**
   * After fast passes: render the state and write it as frr.conf (settle), or apply it where it
   * differs from what FRR runs. Gives way to a change that arrives before the write (givesWay).
   */
  private async settlePass(
    state: DesiredState,
    done: (r: Omit<ReconcileReport, "durationMs" | "state">) => ReconcileReport,
  ): Promise<ReconcileReport> {
    // It wrote nothing: the settle pass that does reports the state.
    const gaveWay = (): ReconcileReport => ({ ...done({ outcome: "unchanged" }), state: undefined });
    this.settleOnly = true;
    if (await this.givesWay()) return gaveWay();
    if (!this.renderCheckNow()) {
      const written = await this.writeKept(state, done);
      if (written !== undefined) return written;
    }
    let text: string;
    try {
      text = this.renderOnce(state);
    } catch (err) {
      return this.fail(done, "render", err);
    }
    if (await this.givesWay()) return gaveWay();
    // It goes through now (written, or applied where FRR differs): the next one may give way again.
    this.settleDeferrals = 0;
    this.settleBy = undefined;
    const settled = await this.settle(state, text, done);
    if (settled !== undefined) return settled;
    this.settleOnly = false; // FRR differs from the render: this pass applies
    return this.apply(state, text, done);
  }

  /**
   * The render may stay the same while the addresses change: in connected mode it names no
   * prefix without attributes (the interface carries them), so only the address set tells.
   */
  private addressesDiffer(state: DesiredState): boolean {
    if (state.prefixes.length !== this.desiredAddresses.size) return true;
    return state.prefixes.some((p) => !this.desiredAddresses.has(p.address));
  }

  /** A settle pass renders once fast passes paused (SETTLE_QUIET_MS), or when it is overdue. */
  private renderCheckNow(): boolean {
    const now = this.now();
    return now - this.lastFastAt >= SETTLE_QUIET_MS || now >= (this.renderCheckBy ?? Infinity);
  }

  /**
   * A settle pass under churn: frr.conf is written from the statements FRR runs (O(statements),
   * no render of every prefix, no parse), and the state reported. The render that checks them
   * against the templates waits for a pause (see renderCheckNow); a timer makes sure one comes.
   * Undefined: this pass renders (a hold or drain changed the state against what fast passes
   * applied; a repair is due; the applier cannot write its statements without a render).
   */
  private async writeKept(
    state: DesiredState,
    done: (r: Omit<ReconcileReport, "durationMs" | "state">) => ReconcileReport,
  ): Promise<ReconcileReport | undefined> {
    if (this.needFull || this.needAddresses || this.failing) return undefined;
    if (this.hold !== undefined || this.drain !== undefined) return undefined;
    if (!(await this.deps.applier.writeRunning())) return undefined;
    this.settleDeferrals = 0;
    this.settleBy = undefined;
    this.learnState(state);
    this.renderCheckWhenQuiet();
    return this.addressesDue ? this.removeAfterGrace(done) : done({ outcome: "unchanged" });
  }

  /**
   * After fast passes: writes the render if it holds what FRR runs; if not (a template that
   * places prefixes or names route-maps in a way the shapes did not capture), the
   * render is applied from what FRR runs — a delta where only statements and attribute
   * route-maps differ, else frr-reload.py. Undefined: apply it.
   */
  private async settle(
    state: DesiredState,
    text: string,
    done: (r: Omit<ReconcileReport, "durationMs" | "state">) => ReconcileReport,
  ): Promise<ReconcileReport | undefined> {
    if (this.needFull || this.needAddresses || this.failing) return undefined;
    if (await this.deps.applier.settle(text)) {
      // The render is what FRR runs, and FRR got it from the shapes the fast passes used: they
      // hold already (learning them again would parse 10k lines more while the loop waits).
      this.learnRender(state, text, "shapes hold");
      // A grace period that ended meanwhile is served here too.
      return this.addressesDue ? this.removeAfterGrace(done) : done({ outcome: "unchanged" });
    }
    return undefined;
  }

  /**
   * The fast path fits a pass whose only effect is on prefixes, in network mode, with a config
   * applied. Each touched (family, attribute set) is placed like the last render placed it; a
   * set the last render did not have is rendered alone first (its route-map entries and
   * statements, O(its prefixes)). A neighbour, the Node, a repair or a retry take the full path.
   * Undefined: the full path.
   */
  private fastPlan(all: boolean, changes: readonly PrefixChange[]): FastPlan | undefined {
    // addressesDue (a withdrawal's grace ended) is served by the fast path's own removal step.
    if (all || this.needFull || this.needAddresses || this.failing) return undefined;
    if (this.deps.config.mode !== "network") return undefined;
    if (this.deps.applier.appliedConfig === undefined || this.lastText === undefined) return undefined;
    if (!this.fastWithdrawalsFit(changes)) return undefined;
    const neighbors = this.state?.neighbors;
    return planFastPass(changes, {
      setNames: this.setNames,
      shapes: this.shapes,
      runningRouteMaps: this.deps.applier.runningRouteMaps,
      routeMapUse: this.deps.applier.runningRouteMapUse,
      renderAlone: (prefixes, attributeSets) =>
        this.render({
          prefixes,
          attributeSets,
          decisions: [],
          problems: [],
          ...(neighbors === undefined ? {} : { neighbors }),
        }),
    });
  }

  private async fastApply(
    plan: FastPlan,
    changes: readonly PrefixChange[],
    done: (r: Omit<ReconcileReport, "durationMs" | "state">) => ReconcileReport,
  ): Promise<ReconcileReport> {
    this.stateStale = true;
    this.lastFastAt = this.now();
    this.renderCheckBy ??= this.lastFastAt + RENDER_CHECK_MAX_DELAY_MS;
    this.settleSoon();
    // Verdicts may have changed without a prefix (a bad annotation, a damped Service): told now.
    if (changes.length === 0) return done({ outcome: "unchanged", services: this.changedVerdicts() });
    const { removed, added } = plan;
    const desired = this.desiredAddresses;
    const withdrawn = changes.filter((c) => c.after === undefined).map((c) => c.address);
    // Kept in step with what FRR is told; undone if FRR is not told (the retry then finds the
    // withdrawals again and gives their addresses the grace period).
    const move = (forward: boolean): void => {
      for (const c of changes) {
        const announced = forward ? c.after !== undefined : c.before !== undefined;
        if (announced) desired.add(c.address);
        else desired.delete(c.address);
      }
    };
    move(true);
    this.addressesDue = false;
    try {
      await this.syncChanged(
        new Map(changes.map((c) => [c.address, desired.has(c.address)])),
        "add",
        () => desired,
      );
    } catch (err) {
      move(false);
      this.needAddresses = true;
      return this.fail(done, "addresses", err);
    }
    if (this.isCutShort()) return done({ outcome: "stopped" });
    try {
      await this.deps.applier.applyNetworkChanges(removed, added, plan.routeMaps);
    } catch (err) {
      move(false);
      // FRR's state is unknown now: the retry reloads the whole file.
      this.needFull = true;
      return this.fail(done, "frr", err);
    }
    this.fastLog.push(...changes);
    // FRR runs the new sets now: later passes place their prefixes like any other.
    this.shapes = plan.shapes;
    for (const [key, name] of plan.names) this.setNames.set(key, name);
    for (const [key, name] of plan.retired) {
      this.setNames.delete(key);
      this.retiredNames.set(key, name);
    }
    if (this.isCutShort()) return done({ outcome: "stopped", frr: "delta" });
    try {
      await this.removeWithdrawn(desired, withdrawn);
    } catch (err) {
      this.needAddresses = true;
      return this.fail(done, "addresses", err);
    }
    this.failing = false;
    this.failures = 0;
    return done({
      outcome: "applied",
      frr: "delta",
      prefixChanges: changes.length,
      services: this.changedVerdicts(),
    });
  }

  /** The verdicts of the Services this pass re-evaluated (none: the Service is gone). */
  private changedVerdicts(): NonNullable<ReconcileReport["services"]> {
    return this.changedServices.map((service) => ({
      service,
      decisions: this.evaluations.get(service)?.decisions ?? [],
    }));
  }

  /** Only a withdrawal's grace period ended: nothing to render, the addresses just go. */
  private onlyAddressesDue(): boolean {
    return (
      this.addressesDue &&
      !this.needFull &&
      !this.needAddresses &&
      !this.failing &&
      !this.settleDue &&
      this.deps.config.mode === "network" &&
      this.lastText !== undefined
    );
  }

  private async removeAfterGrace(
    done: (r: Omit<ReconcileReport, "durationMs" | "state">) => ReconcileReport,
  ): Promise<ReconcileReport> {
    this.addressesDue = false;
    try {
      await this.removeWithdrawn(this.desiredAddresses, []);
    } catch (err) {
      this.needAddresses = true;
      return this.fail(done, "addresses", err);
    }
    return done({ outcome: "unchanged" });
  }

  /** Settles when fast passes pause (SETTLE_QUIET_MS), at the latest SETTLE_MAX_DELAY_MS after the first. */
  private settleSoon(): void {
    const now = this.now();
    this.settleBy ??= now + SETTLE_MAX_DELAY_MS;
    this.settleIn(Math.min(SETTLE_QUIET_MS, this.settleBy - now));
  }

  /** After a settle pass that wrote without a render: one that renders once fast passes pause. */
  private renderCheckWhenQuiet(): void {
    this.settleIn(this.lastFastAt + SETTLE_QUIET_MS - this.now());
  }

  /** The one settle timer, (re)armed to ask for a settle pass in `delayMs`. */
  private settleIn(delayMs: number): void {
    this.settleTimer.arm(delayMs, () => {
      this.requestSettle();
    });
  }

  /**
   * Between the settle pass's steps (building the state, rendering it: each ≈ 20 ms at 10k
   * Services, during which the loop serves nothing): if a change asked for a pass meanwhile, the
   * settle pass stops so that the change's fast pass runs first; the settle pass stays due, by
   * the same deadline as before. Not more than MAX_SETTLE_DEFERRALS times in a row, so steady
   * churn cannot starve it.
   */
  private async givesWay(): Promise<boolean> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!this.rerun || this.settleDeferrals >= MAX_SETTLE_DEFERRALS) return false;
    this.settleDeferrals++;
    this.settleDue = true;
    // The next fast pass re-arms it (settleSoon) by the same deadline; asked for without a fast
    // pass before it (requestSettle), it is overdue already.
    this.settleBy ??= this.now();
    return true;
  }

  /** After FRR got a render of `state`: how it places prefixes, and what learnState learns. */
  private learnRender(state: DesiredState, text: string, shapes?: "shapes hold"): void {
    if (shapes === undefined) {
      const parsed = parseConf(text);
      this.shapes = parsed === undefined ? NetworkShapes.none : NetworkShapes.learn(parsed, state.prefixes);
    }
    this.learnState(state);
    this.lastText = text;
    this.renderCheckBy = undefined;
  }

  /** After FRR runs `state`: its attribute set names, and the addresses it wants. */
  private learnState(state: DesiredState): void {
    this.setNames = new Map(state.attributeSets.map((s) => [attributesKey(s.attributes), s.name]));
    this.retiredNames.clear();
    this.desiredAddresses = new Set(state.prefixes.map((p) => p.address));
  }

  private async apply(
    state: DesiredState,
    text: string,
    done: (r: Omit<ReconcileReport, "durationMs" | "state">) => ReconcileReport,
  ): Promise<ReconcileReport> {
    const desired = new Set(state.prefixes.map((p) => p.address));
    // The requests this pass serves. Taken now: one made while the pass runs (templates changed,
    // FRR restarted) must survive it and get a pass of its own, not be cleared at its end.
    const full = this.needFull;
    const relist = this.needAddresses || this.failing;
    this.needFull = false;
    this.needAddresses = false;
    this.addressesDue = false;
    const failed = (stage: "addresses" | "frr", err: unknown): ReconcileReport => {
      this.needFull ||= full;
      this.needAddresses ||= relist;
      return this.fail(done, stage, err);
    };
    let frr: ApplyOutcome | undefined;
    const connected = this.deps.config.mode === "connected";
    // Only a repair (or a retry) re-reads the interface; otherwise an address step that has
    // nothing to do by the last listing is skipped: a pass that only edits FRR (a withdrawal)
    // then runs no ip(8) at all. The later steps of a pass trust the listing its first step made.
    const first = { trustLastListing: !relist };
    // Network mode, first apply after start or an FRR restart: announce first, add the addresses
    // after (ADR 0010). bgpd does not need them (ADR 0008), the Service's traffic is served by
    // kube-proxy's or the eBPF datapath's rules, and frr-reload.py would otherwise wait for a zebra
    // busy digesting thousands of new addresses.
    const announceFirst = !connected && this.deps.applier.appliedConfig === undefined;
    try {
      // Connected mode: the address is the announcement, so withdrawals go first and new
      // addresses appear only once FRR's filters (and attribute prefix-lists) are in place.
      // An address whose attributes changed is re-added so redistribution re-evaluates it.
      if (connected)
        await this.deps.addresses.sync(this.withoutChangedAttributes(state, desired), "remove", first);
      else if (!announceFirst) await this.deps.addresses.sync(desired, "add", first);
    } catch (err) {
      return failed("addresses", err);
    }
    if (this.isCutShort()) return done({ outcome: "stopped" });
    try {
      frr = await this.applyFrr(state, text, full);
    } catch (err) {
      // Addresses stay: FRR keeps announcing its last good config, and without bgpd's import
      // check (ADR 0008) only the address on the interface stands between that and a black hole.
      // They go once a retry has withdrawn the routes.
      return failed("frr", err);
    }
    if (this.isCutShort()) return done({ outcome: "stopped", frr: frr.kind });
    try {
      await this.addressesAfterFrr(desired, announceFirst ? first : undefined);
    } catch (err) {
      return failed("addresses", err);
    }
    this.lastAttributes = new Map(state.prefixes.map((p) => [p.address, p.attributeSet ?? ""]));
    this.learnRender(state, text);
    this.failing = false;
    this.failures = 0;
    return done({ outcome: frr.kind === "unchanged" ? "unchanged" : "applied", frr: frr.kind });
  }

  /**
   * The address step after FRR: connected mode adds (the address is the announcement); network
   * mode adds first when the pass announced first (`addFirst`), then removes what was withdrawn
   * once its grace period is over.
   */
  private async addressesAfterFrr(
    desired: ReadonlySet<string>,
    addFirst: { readonly trustLastListing: boolean } | undefined,
  ): Promise<void> {
    const later = { trustLastListing: true };
    if (this.deps.config.mode === "connected") {
      await this.deps.addresses.sync(desired, "add", later);
      return;
    }
    if (addFirst !== undefined) await this.deps.addresses.sync(desired, "add", addFirst);
    // Until learnRender(), desiredAddresses are those the previous pass announced.
    const withdrawn = [...this.desiredAddresses].filter((a) => !desired.has(a));
    await this.deps.addresses.sync(this.keepDuringGrace(desired, withdrawn), "remove", later);
  }

  /**
   * The first apply after start or an FRR restart goes in two steps: frr-reload.py with only
   * the prefixes FRR already runs (so healthy routes are never withdrawn and the reload stays
   * small), then the remaining prefixes as one batched delta. In network mode it runs before the
   * address step (ADR 0010): with import-check on, the other way round was needed (bgpd waited for
   * zebra to digest 10k new addresses); without it, the reload no longer waits for that zebra.
   */
  private async applyFrr(state: DesiredState, text: string, full: boolean): Promise<ApplyOutcome> {
    if (this.deps.applier.appliedConfig === undefined && this.deps.config.mode === "network") {
      const running = await this.deps.runningNetworks();
      const kept = { ...state, prefixes: state.prefixes.filter((p) => running.has(p.prefix)) };
      if (kept.prefixes.length < state.prefixes.length) {
        const reloaded = await this.deps.applier.apply(this.render(kept), true);
        if (this.isCutShort()) return reloaded;
        return this.deps.applier.apply(text, false);
      }
    }
    return this.deps.applier.apply(text, full);
  }

  /**
   * An address step over only `wanted` (address → desired now) when the interface's last listing
   * can be trusted; otherwise the full step over `all()`.
   */
  private async syncChanged(
    wanted: ReadonlyMap<string, boolean>,
    phase: "add" | "remove",
    all: () => ReadonlySet<string>,
  ): Promise<void> {
    if (await this.deps.addresses.syncChanged(wanted, phase)) return;
    await this.deps.addresses.sync(all(), phase, { trustLastListing: true });
  }

  /**
   * The fast path's remove step: only the addresses withdrawn now and those whose grace period
   * just ended can go, so only they are looked at — O(changes + addresses in grace).
   */
  private async removeWithdrawn(desired: ReadonlySet<string>, withdrawn: readonly string[]): Promise<void> {
    const ended = this.advanceGrace(desired, withdrawn);
    const wanted = new Map<string, boolean>();
    for (const a of [...withdrawn, ...ended]) wanted.set(a, desired.has(a) || this.withdrawnAt.has(a));
    if (wanted.size === 0) return;
    // The grace periods were just advanced: the fallback only adds those still running.
    await this.syncChanged(wanted, "remove", () => this.withGrace(desired));
  }

  /**
   * In network mode an address outlives its `network` line by a grace period, so FRR has sent
   * the withdrawal before the address goes (no black hole) without the loop waiting for it.
   * Connected mode has no such line: there the address itself is the switch. `withdrawn`: the
   * addresses this pass stopped announcing. Returns desired plus the addresses still in grace.
   */
  private keepDuringGrace(desired: ReadonlySet<string>, withdrawn: Iterable<string>): Set<string> {
    this.advanceGrace(desired, withdrawn);
    return this.withGrace(desired);
  }

  /** `desired` plus the addresses whose grace period is running. */
  private withGrace(desired: ReadonlySet<string>): Set<string> {
    const keep = new Set(desired);
    for (const a of this.withdrawnAt.keys()) keep.add(a);
    return keep;
  }

  /**
   * Starts the grace period of `withdrawn`, ends those that are over (or announced again) and
   * arms the timer for the next one. Returns the addresses whose grace ended. O(addresses in grace).
   */
  private advanceGrace(desired: ReadonlySet<string>, withdrawn: Iterable<string>): string[] {
    const graceMs = this.deps.config.timings.withdrawGraceMs;
    const now = this.now();
    if (this.deps.config.mode === "network" && graceMs > 0) {
      for (const a of withdrawn) this.withdrawnAt.set(a, now);
    }
    const ended: string[] = [];
    let next = Infinity;
    for (const [a, at] of this.withdrawnAt) {
      // Announced again, or its grace is over: no longer kept for it.
      if (desired.has(a) || now - at >= graceMs) {
        this.withdrawnAt.delete(a);
        ended.push(a);
      } else next = Math.min(next, at + graceMs - now);
    }
    if (next === Infinity) this.graceTimer.stop();
    else {
      this.graceTimer.arm(next + 5, () => {
        this.addressesDue = true;
        this.schedule();
      });
    }
    return ended;
  }

  private withoutChangedAttributes(state: DesiredState, desired: ReadonlySet<string>): Set<string> {
    const keep = new Set(desired);
    for (const p of state.prefixes) {
      const before = this.lastAttributes.get(p.address);
      if (before !== undefined && before !== (p.attributeSet ?? "")) keep.delete(p.address);
    }
    return keep;
  }

  private render(state: DesiredState): string {
    return renderFrrConf(this.deps.templates(), toTemplateContext(this.deps.config, state));
  }

  private fail(
    done: (r: Omit<ReconcileReport, "durationMs" | "state">) => ReconcileReport,
    stage: "render" | "addresses" | "frr",
    err: unknown,
  ): ReconcileReport {
    this.failing = true;
    this.failures++;
    // Retry with backoff; the last good config stays in force meanwhile.
    const delay = Math.min(30000, 500 * 2 ** Math.min(this.failures - 1, 6));
    this.retryTimer.arm(delay, () => {
      this.schedule(0);
    });
    return done({ outcome: "failed", stage, error: err instanceof Error ? err.message : String(err) });
  }

  /**
   * Re-evaluates only the Services that changed (all after a Node change) and records their
   * prefix claims; the desired state itself is built on demand (materialize).
   */
  private refreshState(): { changed: boolean; all: boolean } {
    const { store } = this.deps;
    const dirty = store.takeDirty();
    const due = this.dueRechecks();
    if (!dirty.all && dirty.keys.length === 0 && due.length === 0) return { changed: false, all: false };
    const keys = dirty.all ? [...store.serviceKeys(), ...this.evaluations.keys()] : [...dirty.keys, ...due];
    this.changedServices = keys;
    if (dirty.all) {
      this.evaluations.clear();
      this.claims.clear();
    }
    for (const key of keys) {
      const svc = store.service(key);
      if (svc === undefined) {
        this.evaluations.delete(key);
        this.claims.set(key, []);
        this.damper.forget(key);
        this.rechecks.delete(key);
        continue;
      }
      const { evaluation, recheckAt } = this.damper.apply(
        this.evaluator.evaluate(svc, store.slicesOf(key), store.node),
        this.now(),
      );
      if (recheckAt === undefined) this.rechecks.delete(key);
      else this.recheckLater(key, recheckAt);
      this.evaluations.set(key, evaluation);
      this.claims.set(key, evaluation.prefixes);
    }
    this.stateStale = true;
    return { changed: true, all: dirty.all };
  }
}
