// Prometheus metrics (prom-client) on a registry of our own, created in main and injected.
// Names share the frr_advertiser_ prefix; label values are bounded (families, reason codes).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { SessionStatus } from "./frr/bgp-status.js";
import type { MemoryTrimReport } from "./memory-trim.js";
import type { DesiredState } from "./model/desired-state-types.js";
import type { ReconcileReport } from "./reconcile/reconciler.js";

export class Metrics {
  readonly registry = new Registry();
  readonly prefixes = new Gauge({
    name: "frr_advertiser_prefixes_advertised",
    help: "Service prefixes this node advertises, per address family",
    labelNames: ["family"],
    registers: [this.registry],
  });
  readonly decisions = new Gauge({
    name: "frr_advertiser_service_addresses",
    help: "Service addresses per verdict reason code",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly weightedPrefixes = new Gauge({
    name: "frr_advertiser_weighted_prefixes",
    help: "Prefixes this node announces with a weighted-ECMP link bandwidth, per weight (at most advertise.weightedEcmp.maxWeight values)",
    labelNames: ["weight"],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: "frr_advertiser_reconcile_duration_seconds",
    help: "Duration of reconciles that did work",
    labelNames: ["outcome"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly frrApplies = new Counter({
    name: "frr_advertiser_frr_applies_total",
    help: "Changes sent to FRR, by method (delta, reload, rollback) and result (ok, error)",
    labelNames: ["method", "result"],
    registers: [this.registry],
  });
  readonly stale = new Gauge({
    name: "frr_advertiser_config_stale",
    help: "1 while the last reconcile failed and FRR runs an older config",
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    name: "frr_advertiser_last_success_timestamp_seconds",
    help: "Unix time of the last successful reconcile",
    registers: [this.registry],
  });
  readonly informerRestarts = new Counter({
    name: "frr_advertiser_informer_restarts_total",
    help: "Watched resources listed again after a watch or list failure",
    labelNames: ["resource"],
    registers: [this.registry],
  });
  readonly problems = new Gauge({
    name: "frr_advertiser_input_problems",
    help: "Problems with cluster input (bad annotations, conflicts) in the current state",
    registers: [this.registry],
  });

  readonly notAdvertised = new Gauge({
    name: "frr_advertiser_prefixes_not_advertised",
    help: "Prefixes the advertiser announces that bgpd has not sent some established peer for longer than timings.announcementStuckMs",
    registers: [this.registry],
  });
  readonly announcementRepairs = new Counter({
    name: "frr_advertiser_announcement_repairs_total",
    help: "Repairs of prefixes bgpd did not send: reannounce (statement withdrawn and re-added), full_apply (frr-reload.py)",
    labelNames: ["action"] as const,
    registers: [this.registry],
  });
  readonly readBacks = new Counter({
    name: "frr_advertiser_readbacks_total",
    help: "Advertised-routes read-backs from bgpd, by the form that answered: text, or json when the text form did not add up (a new FRR output layout)",
    labelNames: ["form"] as const,
    registers: [this.registry],
  });
  readonly reloadDuration = new Histogram({
    name: "frr_advertiser_reload_duration_seconds",
    help: "Duration of changes sent to FRR, by method (delta, reload, rollback)",
    labelNames: ["method"],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly sessionUp = new Gauge({
    name: "frr_advertiser_bgp_session_up",
    help: "1 when the BGP session to the peer is Established, per address family",
    labelNames: ["peer", "family"],
    registers: [this.registry],
  });
  readonly prefixesSent = new Gauge({
    name: "frr_advertiser_bgp_prefixes_sent",
    help: "Prefixes FRR has sent to the peer, per address family",
    labelNames: ["peer", "family"],
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: "frr_advertiser_events_total",
    help: "Kubernetes Events: posted, or dropped (duplicate, rate-limited, error)",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly sessionResetRefusals = new Counter({
    name: "frr_advertiser_session_reset_refusals_total",
    help: "Config changes refused because they would reset a BGP session (templates.allowSessionReset: false)",
    registers: [this.registry],
  });
  readonly withdrawalsHeld = new Gauge({
    name: "frr_advertiser_withdrawals_held",
    help: "Prefixes the mass-withdrawal breaker keeps advertised although the desired state withdraws them",
    registers: [this.registry],
  });
  readonly withdrawalHolds = new Counter({
    name: "frr_advertiser_withdrawal_holds_total",
    help: "Mass-withdrawal breaker transitions: held (a hold began), released (it ran out, withdrawals applied), cleared (the state recovered)",
    labelNames: ["transition"],
    registers: [this.registry],
  });
  readonly gracefulShutdown = new Gauge({
    name: "frr_advertiser_graceful_shutdown",
    help: "1 while FRR announces this node's routes with the GRACEFUL_SHUTDOWN community (RFC 8326), before a drain withdraws them",
    registers: [this.registry],
  });
  readonly memoryTrims = new Counter({
    name: "frr_advertiser_memory_trims_total",
    help: "Memory-reducing collections after applies paused (timings.memoryTrimSeconds): the JS heap's emptied pages given back to the OS",
    registers: [this.registry],
  });
  readonly memoryTrimDuration = new Histogram({
    name: "frr_advertiser_memory_trim_duration_seconds",
    help: "How long a memory trim held the event loop",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly memoryTrimReleased = new Gauge({
    name: "frr_advertiser_memory_trim_released_bytes",
    help: "Resident memory the last memory trim gave back (RSS before minus after)",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "frr_advertiser_" });
  }

  /** Every change sent to FRR, from the applier. */
  observeApply(method: "delta" | "reload" | "rollback", seconds: number, ok: boolean): void {
    this.reloadDuration.observe({ method }, seconds);
    this.frrApplies.inc({ method, result: ok ? "ok" : "error" });
  }

  observeMemoryTrim(r: MemoryTrimReport): void {
    this.memoryTrims.inc();
    this.memoryTrimDuration.observe(r.ms / 1000);
    this.memoryTrimReleased.set(Math.max(0, r.rssBeforeBytes - r.rssAfterBytes));
  }

  observeSessions(rows: readonly SessionStatus[]): void {
    this.sessionUp.reset();
    this.prefixesSent.reset();
    for (const r of rows) {
      this.sessionUp.set({ peer: r.peer, family: r.family }, r.established ? 1 : 0);
      this.prefixesSent.set({ peer: r.peer, family: r.family }, r.prefixesSent);
    }
  }

  observe(r: ReconcileReport): void {
    if (r.outcome === "waiting" || r.outcome === "stopped") return;
    if (r.outcome === "unchanged") {
      // A pass that found FRR and the interface already right is a success too (quiet nodes),
      // and its verdicts may still have changed (a new Service with a bad annotation).
      this.stale.set(0);
      this.lastSuccess.set(Date.now() / 1000);
      if (r.state !== undefined) this.observeState(r.state);
      return;
    }
    this.reconcileDuration.observe({ outcome: r.outcome }, r.durationMs / 1000);
    if (r.outcome === "failed") {
      this.stale.set(1);
      return;
    }
    this.stale.set(0);
    this.lastSuccess.set(Date.now() / 1000);
    if (r.state !== undefined) this.observeState(r.state);
  }

  /** Gauges that derive from the desired state: prefixes per family, verdicts per reason, problems. */
  private observeState(state: DesiredState): void {
    this.prefixes.set({ family: "ipv4" }, state.prefixes.filter((p) => p.family === "ipv4").length);
    this.prefixes.set({ family: "ipv6" }, state.prefixes.filter((p) => p.family === "ipv6").length);
    const byCode = new Map<string, number>();
    for (const d of state.decisions) byCode.set(d.code, (byCode.get(d.code) ?? 0) + 1);
    this.decisions.reset();
    for (const [reason, n] of byCode) this.decisions.set({ reason }, n);
    const weights = new Map(state.attributeSets.map((s) => [s.name, s.attributes.linkBandwidth]));
    const byWeight = new Map<number, number>();
    for (const p of state.prefixes) {
      const w = weights.get(p.attributeSet ?? "");
      if (w !== undefined) byWeight.set(w, (byWeight.get(w) ?? 0) + 1);
    }
    this.weightedPrefixes.reset();
    for (const [weight, n] of byWeight) this.weightedPrefixes.set({ weight: String(weight) }, n);
    this.problems.set(state.problems.length);
    this.withdrawalsHeld.set(state.withdrawalHold?.held.length ?? 0);
  }
}
