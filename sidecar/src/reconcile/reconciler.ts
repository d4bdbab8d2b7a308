// The level-triggered loop: an event only schedules; one reconcile at a time reads the whole
// store, re-evaluates the Services that changed, renders, and applies in black-hole-free order
// (addresses added → FRR → addresses removed). Failures keep the last good config and retry.

import type { Config } from "../config/load-config.js";
import { desiredStateFor, evaluateService, type ServiceEvaluation } from "../model/desired-state.js";
import type { DesiredState } from "../model/desired-state-types.js";
import { toTemplateContext } from "../render/context.js";
import { renderFrrConf, type CompiledTemplates } from "../render/renderer.js";
import type { ApplyOutcome } from "../frr/config-applier.js";
import type { ClusterStore } from "../kube/cluster-store.js";

export interface FrrApplier {
  readonly appliedConfig: string | undefined;
  apply(text: string, full: boolean): Promise<ApplyOutcome>;
}

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
}

export interface ReconcileReport {
  /** "stopped": the drain began; the pass ended after the step in flight. */
  readonly outcome: "unchanged" | "applied" | "failed" | "waiting" | "stopped";
  /** Set when FRR was touched. */
  readonly frr?: ApplyOutcome["kind"];
  readonly error?: string;
  readonly stage?: "render" | "addresses" | "frr";
  readonly durationMs: number;
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
  readonly now?: () => number;
}

export class Reconciler {
  private readonly evaluations = new Map<string, ServiceEvaluation>();
  private state: DesiredState | undefined;
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
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rerun = false;
  /** When the last pass ended (Date.now()); the batching window counts from there. */
  private lastPassEnd = Number.NEGATIVE_INFINITY;
  private stopped = false;
  /** Set while stop() waits: the pass in flight returns after its current step. */
  private cutShort = false;
  /** Network mode: address → when FRR was told to stop announcing it (address removal waits). */
  private readonly withdrawnAt = new Map<string, number>();
  private lastDesired = new Set<string>();
  /** address → attribute set name it was last applied with ("" = none). */
  private lastAttributes = new Map<string, string>();

  constructor(private readonly deps: ReconcilerDeps) {}

  get desiredState(): DesiredState | undefined {
    return this.state;
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
    if (this.timer !== undefined) return;
    const window = this.deps.config.timings.batchWindowMs;
    const delay = delayMs ?? Math.max(0, this.lastPassEnd + window - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.reconcileOnce()
        .then(this.deps.report)
        .finally(() => {
          this.running = undefined;
          this.lastPassEnd = Date.now();
          if (this.rerun) {
            this.rerun = false;
            this.schedule();
          }
        });
    }, delay);
  }

  /** The next apply goes through frr-reload.py (templates/config changed, FRR restarted, resync). */
  requestFullApply(): void {
    this.needFull = true;
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
    if (this.timer) clearTimeout(this.timer);
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

  /** Something besides a changed render asks for a pass (full apply, addresses, a retry). */
  private get workPending(): boolean {
    return this.needFull || this.needAddresses || this.addressesDue || this.failing;
  }

  /** Nothing is applied before the first sync, nor while FRR does not answer (see deps.frrUp). */
  private get mustWait(): boolean {
    if (this.state === undefined && !this.deps.isSynced()) return true;
    return this.deps.frrUp?.() === false;
  }

  async reconcileOnce(): Promise<ReconcileReport> {
    const now = this.deps.now ?? Date.now;
    const started = now();
    const done = (r: Omit<ReconcileReport, "durationMs" | "state">): ReconcileReport => ({
      ...r,
      durationMs: now() - started,
      state: this.state,
    });
    // Before refreshState: the changed Services stay dirty for the pass that may apply them.
    if (this.mustWait) return done({ outcome: "waiting" });
    const changed = this.refreshState();
    const state = this.state;
    if (state === undefined) return done({ outcome: "waiting" });
    if (!changed && !this.workPending) return done({ outcome: "unchanged" });
    let text: string;
    try {
      // A periodic address repair of an unchanged state reuses its render (cheap at 10k).
      text = this.rendered?.state === state ? this.rendered.text : this.render(state);
      this.rendered = { state, text };
    } catch (err) {
      return this.fail(done, "render", err);
    }
    if (text === this.lastText && !this.workPending) {
      return done({ outcome: "unchanged" });
    }
    return this.apply(state, text, done);
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
    const later = { trustLastListing: true };
    try {
      // Connected mode: the address is the announcement, so withdrawals go first and new
      // addresses appear only once FRR's filters (and attribute prefix-lists) are in place.
      // An address whose attributes changed is re-added so redistribution re-evaluates it.
      if (connected)
        await this.deps.addresses.sync(this.withoutChangedAttributes(state, desired), "remove", first);
      else await this.deps.addresses.sync(desired, "add", first);
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
      if (connected) await this.deps.addresses.sync(desired, "add", later);
      else await this.deps.addresses.sync(this.keepDuringGrace(desired), "remove", later);
    } catch (err) {
      return failed("addresses", err);
    }
    this.lastAttributes = new Map(state.prefixes.map((p) => [p.address, p.attributeSet ?? ""]));
    this.lastText = text;
    this.failing = false;
    this.failures = 0;
    return done({ outcome: frr.kind === "unchanged" ? "unchanged" : "applied", frr: frr.kind });
  }

  /**
   * The first apply after start or an FRR restart goes in two steps: frr-reload.py with only
   * the prefixes FRR already runs (so healthy routes are never withdrawn and the reload stays
   * small), then the remaining prefixes as one batched delta. It runs after the address step on
   * purpose: tried the other way round (reload while zebra is idle, then addresses), bgpd got
   * 10k import-checked `network` lines while zebra was still digesting 10k new connected routes,
   * and the last of them reached the peer 80 s later instead of ≈ 15 s (bench, 10k warm sync).
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
   * In network mode an address outlives its `network` line by a grace period, so FRR has sent
   * the withdrawal before the address goes (no black hole) without the loop waiting for it.
   * Connected mode has no such line: there the address itself is the switch.
   */
  private keepDuringGrace(desired: ReadonlySet<string>): Set<string> {
    const graceMs = this.deps.config.timings.withdrawGraceMs;
    const now = (this.deps.now ?? Date.now)();
    if (this.deps.config.mode === "network" && graceMs > 0) {
      for (const a of this.lastDesired) if (!desired.has(a)) this.withdrawnAt.set(a, now);
    }
    for (const a of desired) this.withdrawnAt.delete(a);
    this.lastDesired = new Set(desired);
    const keep = new Set(desired);
    let next = Infinity;
    for (const [a, at] of this.withdrawnAt) {
      if (now - at >= graceMs) this.withdrawnAt.delete(a);
      else {
        keep.add(a);
        next = Math.min(next, at + graceMs - now);
      }
    }
    if (next !== Infinity) {
      setTimeout(() => {
        this.addressesDue = true;
        this.schedule();
      }, next + 5).unref();
    }
    return keep;
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
    setTimeout(() => {
      this.schedule(0);
    }, delay).unref();
    return done({ outcome: "failed", stage, error: err instanceof Error ? err.message : String(err) });
  }

  /** Re-evaluates only the Services that changed; true if the desired state may differ. */
  private refreshState(): boolean {
    const { store, config } = this.deps;
    const dirty = store.takeDirty();
    if (!dirty.all && dirty.keys.length === 0 && this.state !== undefined) return false;
    const keys = dirty.all ? [...store.serviceKeys(), ...this.evaluations.keys()] : dirty.keys;
    if (dirty.all) this.evaluations.clear();
    for (const key of keys) {
      const svc = store.service(key);
      if (svc === undefined) this.evaluations.delete(key);
      else this.evaluations.set(key, evaluateService(svc, store.slicesOf(key), store.node, config.policy));
    }
    this.state = desiredStateFor(this.evaluations.values(), store.node, config.policy);
    return true;
  }
}
