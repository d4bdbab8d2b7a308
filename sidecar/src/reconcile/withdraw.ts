// Clean shutdown: withdraw every service prefix in one batch, wait until FRR has sent the
// withdrawals to its peers, then remove our addresses. Bounded by a deadline.

import { parseBgpSummary } from "../frr/bgp-status.js";
import { combineEvaluations } from "../model/desired-state.js";
import type { DesiredState } from "../model/desired-state-types.js";
import type { IpFamily } from "../model/snapshot.js";
import type { AddressSync, FrrApplier } from "./reconciler.js";

export interface WithdrawDeps {
  readonly mode: "network" | "connected";
  readonly render: (state: DesiredState) => string;
  readonly applier: FrrApplier;
  readonly addresses: AddressSync;
  /** `show bgp summary json`, parsed. */
  readonly bgpSummary: () => Promise<unknown>;
  readonly log: { info(fields: object, msg: string): void; warn(fields: object, msg: string): void };
}

export type SentCounts = Map<string, number>;

export async function withdrawAll(
  deps: WithdrawDeps,
  advertised: DesiredState | undefined,
  deadline: number,
): Promise<void> {
  const empty = combineEvaluations([]);
  const counts = countByFamily(advertised);
  const before = await sentCounts(deps).catch(() => new Map<string, number>());
  const none = new Set<string>();
  if (deps.mode === "connected") {
    // Redistribution follows the interface: removing the addresses is the withdrawal.
    await deps.addresses.sync(none, "remove");
    await waitForWithdrawals(deps, before, counts, deadline);
    await deps.applier.apply(deps.render(empty), false);
    return;
  }
  // One batch of `no network` lines (not frr-reload line by line), then the addresses.
  await deps.applier.apply(deps.render(empty), false);
  await waitForWithdrawals(deps, before, counts, deadline);
  await deps.addresses.sync(none, "remove");
}

function countByFamily(state: DesiredState | undefined): Map<IpFamily, number> {
  const m = new Map<IpFamily, number>([
    ["ipv4", 0],
    ["ipv6", 0],
  ]);
  for (const p of state?.prefixes ?? []) m.set(p.family, (m.get(p.family) ?? 0) + 1);
  return m;
}

/** Waits until every established peer's sent-prefix count dropped by what we withdrew. */
async function waitForWithdrawals(
  deps: WithdrawDeps,
  before: SentCounts,
  withdrawn: Map<IpFamily, number>,
  deadline: number,
): Promise<void> {
  for (;;) {
    const now = await sentCounts(deps).catch(() => undefined);
    if (now === undefined) return; // FRR is gone: nothing left to wait for.
    const pending = [...now].filter(([key, sent]) => {
      const family: IpFamily = key.startsWith("ipv6") ? "ipv6" : "ipv4";
      const target = Math.max(0, (before.get(key) ?? sent) - (withdrawn.get(family) ?? 0));
      return sent > target;
    });
    if (pending.length === 0) return;
    if (Date.now() > deadline) {
      deps.log.warn(
        { pending: pending.map(([k]) => k) },
        "shutdown deadline reached before every peer saw the withdrawals",
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** "ipv4/PEER" → prefixes sent, for established peers. */
async function sentCounts(deps: WithdrawDeps): Promise<SentCounts> {
  const out: SentCounts = new Map();
  for (const s of parseBgpSummary(await deps.bgpSummary()))
    if (s.established) out.set(`${s.family}/${s.peer}`, s.prefixesSent);
  return out;
}
