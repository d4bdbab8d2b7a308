// The shutdown drain: whatever stage the sidecar reached, leave the node announcing none of its
// service prefixes, holding none of its addresses, with a drained frr.conf on disk. Bounded by a
// deadline; reports which steps it could not finish instead of throwing. RFC 8326 comes first.

import { sleep, systemClock, type Clock } from "../clock.js";
import { parseBgpSummary } from "../frr/bgp-status.js";
import type { DesiredState } from "../model/desired-state-types.js";
import { familyOfText } from "../model/ip.js";
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
  readonly addresses: Pick<AddressSync, "sync">;
  /** True when FRR's daemons answered at the last check. */
  readonly frrAnswers: boolean;
  /** `show bgp summary json`, parsed. */
  readonly bgpSummary: () => Promise<unknown>;
  /** RFC 8326 before the withdrawal (safety.gracefulShutdown); absent: switched off. */
  readonly gracefulShutdown?:
    | {
        /** Has FRR re-announce every route with GRACEFUL_SHUTDOWN; resolves once FRR took it. */
        readonly start: () => Promise<void>;
        /** Switches it off again, once nothing of ours is announced any more. */
        readonly stop: () => Promise<void>;
        readonly waitMs: number;
      }
    | undefined;
  readonly log?: DrainLog;
  /** Time, the graceful wait and the withdrawal poll (tests pass their own); the system clock by default. */
  readonly clock?: Clock;
}

export interface DrainLog {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

export type DrainStep = "withdraw" | "peers" | "addresses" | "file";

/** What became of the graceful-shutdown phase. */
export type GracefulOutcome =
  | { readonly kind: "announced"; readonly waitedMs: number }
  | { readonly kind: "skipped" | "failed"; readonly why: string };

export interface DrainReport {
  /** Steps that failed or did not finish before the deadline (empty: a complete drain). */
  readonly unfinished: readonly { step: DrainStep; why: string }[];
  readonly withdrawn: number;
  readonly graceful: GracefulOutcome;
}

/**
 * The graceful wait ends at the latest this long before the drain's deadline: the withdrawal
 * itself needs it (10k prefixes: the peer was empty after 0.34 s, the process exited after 1.9 s).
 */
export const WITHDRAWAL_RESERVE_MS = 5000;

type SentCounts = Map<string, number>;

/**
 * Graceful shutdown first (RFC 8326), when routes are out and the option is on: every route is
 * re-announced with the GRACEFUL_SHUTDOWN community, so the peers move traffic to other paths
 * while this node still serves it, for `waitMs` (less when the deadline is nearer than that plus
 * WITHDRAWAL_RESERVE_MS). Then, in network mode: withdraw in FRR (one batch), wait until every
 * established peer was sent the withdrawals, then remove the addresses (no black hole: the route
 * goes before the address). Connected mode: the address is the announcement, so it goes first,
 * then the config.
 */
export async function drainNode(
  deps: DrainDeps,
  advertised: DesiredState | undefined,
  deadline: number,
): Promise<DrainReport> {
  const now = clockOf(deps).now;
  const unfinished: { step: DrainStep; why: string }[] = [];
  const step = async <T>(name: DrainStep, fn: () => Promise<T>): Promise<T | undefined> => {
    const started = now();
    try {
      const result = await withTimeout(fn(), deadline - now(), "shutdown deadline reached");
      deps.log?.info({ step: name, ms: now() - started }, "drain step done");
      return result;
    } catch (err) {
      unfinished.push({ step: name, why: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  };
  // No summary (bgpd has no BGP instance yet, or does not answer): no session to wait for.
  const before = deps.frrAnswers ? await sentCounts(deps).catch(() => undefined) : undefined;
  const graceful = await gracefulPhase(deps, before, deadline);
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
  if (graceful.kind === "announced") await endGraceful(deps, unfinished, deadline);
  const total = [...withdrawn.values()].reduce((a, b) => a + b, 0);
  return { unfinished, withdrawn: total, graceful };
}

/**
 * Once every peer was sent the withdrawals, `bgp graceful-shutdown` goes again, so that FRR runs
 * exactly the drained frr.conf (which never holds it). Not before: a route still out would be
 * re-sent without the community. A failure here costs nothing of the drain: the sidecar's first
 * apply after a start is a full reload of its render, which removes the line as well.
 */
async function endGraceful(
  deps: DrainDeps,
  unfinished: readonly { step: DrainStep }[],
  deadline: number,
): Promise<void> {
  const gs = deps.gracefulShutdown;
  if (gs === undefined) return;
  // The steps that end the announcements: in connected mode the addresses are the withdrawal.
  const ending: readonly DrainStep[] =
    deps.mode === "connected" ? ["addresses", "peers"] : ["withdraw", "peers"];
  const left = unfinished.filter((u) => ending.includes(u.step));
  if (left.length > 0) {
    deps.log?.warn(
      { unfinished: left.map((u) => u.step) },
      "graceful shutdown left on: withdrawal unfinished",
    );
    return;
  }
  try {
    await withTimeout(gs.stop(), deadline - clockOf(deps).now(), "shutdown deadline reached");
    deps.log?.info({}, "graceful shutdown switched off: FRR runs the drained frr.conf");
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    deps.log?.warn({ err: why }, "graceful shutdown left on; the next start's full reload removes it");
  }
}

/** The drain's clock: the one the caller passed, else the system's. */
function clockOf(deps: DrainDeps): Clock {
  return deps.clock ?? systemClock;
}

/**
 * RFC 8326: only when it can matter — the option is on, FRR answers, and some established peer
 * was sent routes. FRR not taking the command (or not in time) never holds up the withdrawal.
 */
async function gracefulPhase(
  deps: DrainDeps,
  before: SentCounts | undefined,
  deadline: number,
): Promise<GracefulOutcome> {
  const gs = deps.gracefulShutdown;
  if (gs === undefined) return { kind: "skipped", why: "switched off" };
  const clock = clockOf(deps);
  const now = clock.now;
  const started = now();
  // The wait counts from the command, and ends where the withdrawal's reserve begins.
  const last = () => Math.min(deadline - WITHDRAWAL_RESERVE_MS, started + gs.waitMs);
  const why =
    notNow(deps, before) ?? (last() <= started ? "no time left before the shutdown deadline" : undefined);
  if (why !== undefined) {
    deps.log?.info({ why }, "graceful shutdown skipped");
    return { kind: "skipped", why };
  }
  try {
    await withTimeout(gs.start(), last() - started, "FRR did not answer in time");
  } catch (err) {
    const failed = err instanceof Error ? err.message : String(err);
    deps.log?.warn({ err: failed }, "graceful shutdown failed; withdrawing without it");
    return { kind: "failed", why: failed };
  }
  const waitMs = Math.max(0, last() - now());
  deps.log?.info(
    { waitMs, community: "65535:0" },
    "graceful shutdown: routes re-announced with GRACEFUL_SHUTDOWN; waiting before the withdrawal",
  );
  await sleep(clock, waitMs);
  return { kind: "announced", waitedMs: now() - started };
}

/** Why there is nothing for graceful shutdown to do; undefined when there is. */
function notNow(deps: DrainDeps, before: SentCounts | undefined): string | undefined {
  if (!deps.frrAnswers) return "FRR does not answer";
  if (before === undefined || before.size === 0) return "no established session";
  if (![...before.values()].some((sent) => sent > 0)) return "nothing advertised";
  return undefined;
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
    const family = familyOfText(p);
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
  const clock = clockOf(deps);
  for (;;) {
    const counts = await sentCounts(deps).catch(() => undefined);
    if (counts === undefined) return; // FRR is gone, and its sessions with it.
    const pending = [...counts].filter(([key, sent]) => {
      const family: IpFamily = key.startsWith("ipv6") ? "ipv6" : "ipv4";
      const target = Math.max(0, (before.get(key) ?? sent) - (withdrawn.get(family) ?? 0));
      return sent > target;
    });
    if (pending.length === 0) return;
    if (clock.now() > deadline)
      throw new Error(`peers not yet sent every withdrawal: ${pending.map(([k]) => k).join(", ")}`);
    await sleep(clock, 20);
  }
}

/** "ipv4/PEER" → prefixes sent, for established peers. */
async function sentCounts(deps: DrainDeps): Promise<SentCounts> {
  const out: SentCounts = new Map();
  for (const s of parseBgpSummary(await deps.bgpSummary()))
    if (s.established) out.set(`${s.family}/${s.peer}`, s.prefixesSent);
  return out;
}
