// The mass-withdrawal breaker, case by case: what is held, what never is, and when a hold ends.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AdvertisedPrefix, Decision, DesiredState, ReasonCode } from "./desired-state-types.js";
import { guardWithdrawals, type BreakerHold, type BreakerSettings } from "./withdrawal-breaker.js";

const SETTINGS: BreakerSettings = {
  enabled: true,
  maxWithdrawShare: 0.5,
  minWithdrawals: 3,
  holdMs: 120_000,
};

const ip = (i: number): string => `10.96.0.${i}`;
const svc = (i: number): string => `default/s${i}`;
const prefix = (i: number, attributeSet?: string): AdvertisedPrefix => ({
  prefix: `${ip(i)}/32`,
  address: ip(i),
  family: "ipv4",
  attributeSet,
  services: [svc(i)],
});
const decision = (i: number, code: ReasonCode): Decision => ({
  service: svc(i),
  address: ip(i),
  kind: "clusterIP",
  advertise: code === "advertised",
  code,
  reason: code,
});

/** Services 1..n advertised; then `codes` says what each one's decision is now (absent: Service gone). */
function pass(
  n: number,
  codes: Record<number, ReasonCode | "gone">,
): { before: DesiredState; next: DesiredState } {
  const all = Array.from({ length: n }, (_, k) => k + 1);
  const before: DesiredState = {
    prefixes: all.map((i) => prefix(i)),
    attributeSets: [],
    decisions: all.map((i) => decision(i, "advertised")),
    problems: [],
  };
  const now = (i: number): ReasonCode | "gone" => codes[i] ?? "advertised";
  const next: DesiredState = {
    prefixes: all.filter((i) => now(i) === "advertised").map((i) => prefix(i)),
    attributeSets: [],
    decisions: all.flatMap((i) => {
      const c = now(i);
      return c === "gone" ? [] : [decision(i, c)];
    }),
    problems: [],
  };
  return { before, next };
}

const range = (from: number, to: number, code: ReasonCode | "gone"): Record<number, ReasonCode | "gone"> =>
  Object.fromEntries(Array.from({ length: to - from + 1 }, (_, k) => [from + k, code]));

const cases: { name: string; n: number; codes: Record<number, ReasonCode | "gone">; held: number }[] = [
  { name: "an empty list (every Service gone)", n: 10, codes: range(1, 10, "gone"), held: 10 },
  { name: "90 % of the Services deleted", n: 10, codes: range(1, 9, "gone"), held: 9 },
  { name: "the Node object deleted", n: 10, codes: range(1, 10, "node-unknown"), held: 10 },
  {
    name: "a config change that drops a family or kind",
    n: 10,
    codes: range(1, 8, "address-kind-disabled"),
    held: 8,
  },
  { name: "half of them gone: not more than the share", n: 10, codes: range(1, 5, "gone"), held: 0 },
  { name: "fewer than the minimum count", n: 4, codes: range(1, 2, "gone"), held: 0 },
  {
    name: "endpoints unready (health), however many",
    n: 10,
    codes: range(1, 10, "no-ready-endpoints"),
    held: 0,
  },
  {
    name: "no local endpoints (ETP=Local), however many",
    n: 10,
    codes: range(1, 10, "no-local-ready-endpoints"),
    held: 0,
  },
  {
    name: "the node drains (annotation, cordon, switch)",
    n: 10,
    codes: range(1, 10, "node-draining"),
    held: 0,
  },
  { name: "the node is excluded by label", n: 10, codes: range(1, 10, "node-excluded"), held: 0 },
  {
    name: "health withdrawals do not count toward the share",
    n: 10,
    codes: { ...range(1, 5, "no-ready-endpoints"), ...range(6, 9, "gone") },
    held: 0,
  },
];

for (const c of cases) {
  void test(`breaker: ${c.name} → ${c.held === 0 ? "applied" : `${c.held} held`}`, () => {
    const { before, next } = pass(c.n, c.codes);
    const out = guardWithdrawals({ advertised: before, next, hold: undefined, now: 1000 }, SETTINGS);
    assert.equal(out.hold?.held.length ?? 0, c.held);
    const applied = out.state.prefixes.map((p) => p.prefix);
    if (c.held === 0)
      assert.deepEqual(
        applied,
        next.prefixes.map((p) => p.prefix),
      );
    else {
      // Held prefixes stay advertised, in the model's order, next to what is still wanted.
      assert.deepEqual(
        applied,
        before.prefixes.map((p) => p.prefix).filter((p) => applied.includes(p)),
      );
      assert.equal(applied.length, next.prefixes.length + c.held);
      assert.ok(out.hold);
      assert.equal(out.hold.since, 1000);
      assert.equal(out.hold.until, 121_000);
    }
  });
}

void test("breaker: the hold ends when the state recovers, or is released once the hold time ran out", () => {
  const { before, next } = pass(10, range(1, 10, "gone"));
  const first = guardWithdrawals({ advertised: before, next, hold: undefined, now: 0 }, SETTINGS);
  assert.ok(first.hold);
  // Still the same a minute later: still held, from the first time.
  const later = guardWithdrawals({ advertised: before, next, hold: first.hold, now: 60_000 }, SETTINGS);
  assert.equal(later.hold?.since, 0);
  assert.equal(later.released, false);
  // The list is back: nothing to hold.
  const recovered = guardWithdrawals(
    { advertised: before, next: pass(10, {}).next, hold: later.hold, now: 70_000 },
    SETTINGS,
  );
  assert.equal(recovered.hold, undefined);
  assert.equal(recovered.state.prefixes.length, 10);
  // Persisting past the hold time: applied as it is.
  const released = guardWithdrawals({ advertised: before, next, hold: later.hold, now: 120_000 }, SETTINGS);
  assert.equal(released.released, true);
  assert.equal(released.hold, undefined);
  assert.deepEqual(released.state.prefixes, []);
});

void test("breaker: held prefixes keep their attribute sets; off or nothing applied yet: no guard", () => {
  const set = {
    name: "FRRADV-A-1",
    attributes: {
      communities: ["65000:1"],
      largeCommunities: [],
      localPreference: undefined,
      med: undefined,
      asPathPrepend: [],
    },
  };
  const before: DesiredState = {
    prefixes: [1, 2, 3, 4].map((i) => prefix(i, "FRRADV-A-1")),
    attributeSets: [set],
    decisions: [],
    problems: [],
  };
  const empty: DesiredState = { prefixes: [], attributeSets: [], decisions: [], problems: [] };
  const out = guardWithdrawals({ advertised: before, next: empty, hold: undefined, now: 0 }, SETTINGS);
  assert.deepEqual(out.state.attributeSets, [set]);
  assert.match(out.hold?.reason ?? "", /4 Service gone/);
  assert.equal(
    guardWithdrawals(
      { advertised: before, next: empty, hold: undefined, now: 0 },
      { ...SETTINGS, enabled: false },
    ).hold,
    undefined,
  );
  assert.equal(
    guardWithdrawals({ advertised: undefined, next: empty, hold: undefined, now: 0 }, SETTINGS).hold,
    undefined,
  );
});

void test("breaker: a hold keeps the first `since` only while it holds (a new trip starts a new hold)", () => {
  const { before, next } = pass(10, range(1, 10, "gone"));
  const old: BreakerHold = { since: 0, until: 120_000, held: [], advertised: 10, reason: "" };
  assert.equal(
    guardWithdrawals({ advertised: before, next, hold: old, now: 5_000 }, SETTINGS).hold?.since,
    0,
  );
  assert.equal(
    guardWithdrawals({ advertised: before, next, hold: undefined, now: 5_000 }, SETTINGS).hold?.since,
    5_000,
  );
});
