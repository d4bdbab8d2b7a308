// The shutdown drain: whatever stage the sidecar reached, leave the node announcing none of its
// service prefixes, holding none of its addresses, with a drained frr.conf on disk. Bounded by a
// deadline; reports which steps it could not finish instead of throwing.

import { parseBgpSummary } from "../frr/bgp-status.js";
import type { DesiredState } from "../model/desired-state-types.js";
import type { IpFamily } from "../model/snapshot.js";
import { withTimeout } from "../timeout.js";
import type { AddressSync, FrrApplier } from "./reconciler.js";

/** What the drain needs from ConfigApplier beyond the reconciler's port. */
export interface DrainApplier extends Pick<FrrApplier, "appliedConfig" | "apply"> {
  /** Nothing applied by this process: withdraw what FRR runs anyway; returns the prefixes. */
  withdrawFromRunning(drained: string): Promise<string[]>;
  /** FRR does not answer: leave the drained file for its next start. */
  leaveForNextStart(drained: string): Promise<void>;
}

export interface DrainDeps {
  readonly mode: "network" | "connected";
  /** frr.conf with no service in it (the current templates, the empty desired state). */
  readonly drainedConfig: string;
  readonly applier: DrainApplier;
  readonly addresses: AddressSync;
  /** True when FRR's daemons answered at the last check. */
  readonly frrAnswers: boolean;
  /** `show bgp summary json`, parsed. */
  readonly bgpSummary: () => Promise<unknown>;
  readonly now?: () => number;
}

export type DrainStep = "withdraw" | "peers" | "addresses" | "file";

export interface DrainReport {
  /** Steps that failed or did not finish before the deadline (empty: a complete drain). */
  readonly unfinished: readonly { step: DrainStep; why: string }[];
  readonly withdrawn: number;
}

type SentCounts = Map<string, number>;

/**
 * Network mode: withdraw in FRR (one batch), wait until every established peer was sent the
 * withdrawals, then remove the addresses (no black hole: the route goes before the address).
 * Connected mode: the address is the announcement, so it goes first, then the config.
 */
export async function drainNode(
  deps: DrainDeps,
  advertised: DesiredState | undefined,
  deadline: number,
): Promise<DrainReport> {
  const unfinished: { step: DrainStep; why: string }[] = [];
  const step = async <T>(name: DrainStep, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await withTimeout(fn(), deadline - (deps.now ?? Date.now)(), "shutdown deadline reached");
    } catch (err) {
      unfinished.push({ step: name, why: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  };
  // No summary (bgpd has no BGP instance yet, or does not answer): no session to wait for.
  const before = deps.frrAnswers ? await sentCounts(deps).catch(() => undefined) : undefined;
  const none = new Set<string>();
  let withdrawn: Map<IpFamily, number> = countByFamily(advertised?.prefixes.map((p) => p.prefix) ?? []);
  if (deps.mode === "connected") {
    await step("addresses", () => deps.addresses.sync(none, "remove"));
    if (before !== undefined)
      await step("peers", () => waitForWithdrawals(deps, before, withdrawn, deadline));
    await step("file", () => leaveDrainedConfig(deps));
  } else {
    const prefixes = await step("withdraw", () => withdrawInFrr(deps, advertised));
    if (prefixes !== undefined) withdrawn = countByFamily(prefixes);
    if (before !== undefined && prefixes !== undefined)
      await step("peers", () => waitForWithdrawals(deps, before, withdrawn, deadline));
    await step("addresses", () => deps.addresses.sync(none, "remove"));
  }
  const total = [...withdrawn.values()].reduce((a, b) => a + b, 0);
  return { unfinished, withdrawn: total };
}

/** One batch of `no network` lines; the drained file is on disk afterwards in every case. */
async function withdrawInFrr(
  deps: DrainDeps,
  advertised: DesiredState | undefined,
): Promise<readonly string[]> {
  if (deps.applier.appliedConfig !== undefined) {
    // The delta is taken from what FRR runs, not what the model wanted: a pass cut short by the
    // signal applied less, and fast changes may not be in the file yet.
    const outcome = await deps.applier.apply(deps.drainedConfig, false);
    if (outcome.kind === "delta") return outcome.withdrawn;
    return outcome.kind === "unchanged" ? [] : (advertised?.prefixes.map((p) => p.prefix) ?? []);
  }
  if (!deps.frrAnswers) {
    await deps.applier.leaveForNextStart(deps.drainedConfig);
    return [];
  }
  return deps.applier.withdrawFromRunning(deps.drainedConfig);
}

/** Connected mode: the config holds no per-service line that matters once the addresses are gone. */
async function leaveDrainedConfig(deps: DrainDeps): Promise<void> {
  if (deps.applier.appliedConfig !== undefined && deps.frrAnswers)
    await deps.applier.apply(deps.drainedConfig, false);
  else await deps.applier.leaveForNextStart(deps.drainedConfig);
}

function countByFamily(prefixes: readonly string[]): Map<IpFamily, number> {
  const m = new Map<IpFamily, number>([
    ["ipv4", 0],
    ["ipv6", 0],
  ]);
  for (const p of prefixes) {
    const family: IpFamily = p.includes(":") ? "ipv6" : "ipv4";
    m.set(family, (m.get(family) ?? 0) + 1);
  }
  return m;
}

/** Waits until every established peer's sent-prefix count dropped by what was withdrawn. */
async function waitForWithdrawals(
  deps: DrainDeps,
  before: SentCounts,
  withdrawn: Map<IpFamily, number>,
  deadline: number,
): Promise<void> {
  const now = deps.now ?? Date.now;
  for (;;) {
    const counts = await sentCounts(deps).catch(() => undefined);
    if (counts === undefined) return; // FRR is gone, and its sessions with it.
    const pending = [...counts].filter(([key, sent]) => {
      const family: IpFamily = key.startsWith("ipv6") ? "ipv6" : "ipv4";
      const target = Math.max(0, (before.get(key) ?? sent) - (withdrawn.get(family) ?? 0));
      return sent > target;
    });
    if (pending.length === 0) return;
    if (now() > deadline)
      throw new Error(`peers not yet sent every withdrawal: ${pending.map(([k]) => k).join(", ")}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** "ipv4/PEER" → prefixes sent, for established peers. */
async function sentCounts(deps: DrainDeps): Promise<SentCounts> {
  const out: SentCounts = new Map();
  for (const s of parseBgpSummary(await deps.bgpSummary()))
    if (s.established) out.set(`${s.family}/${s.peer}`, s.prefixesSent);
  return out;
}
