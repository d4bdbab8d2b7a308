// The graceful node drain: when the routes wait with GRACEFUL_SHUTDOWN, and when they go.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AdvertisedPrefix, DesiredState, ReasonCode } from "./desired-state-types.js";
import { guardNodeDrain } from "./graceful-drain.js";

const SETTINGS = { enabled: true, waitMs: 5000 };
const p = (i: number): AdvertisedPrefix => ({
  prefix: `10.96.0.${i}/32`,
  address: `10.96.0.${i}`,
  family: "ipv4",
  attributeSet: undefined,
  services: [`d/s${i}`],
});
const state = (code: ReasonCode, prefixes: AdvertisedPrefix[]): DesiredState => ({
  prefixes,
  attributeSets: [],
  decisions: [1, 2].map((i) => ({
    service: `d/s${i}`,
    address: `10.96.0.${i}`,
    kind: "clusterIP" as const,
    advertise: code === "advertised",
    code,
    reason: code,
  })),
  problems: [],
});
const advertised = state("advertised", [p(1), p(2)]);

for (const code of ["node-draining", "node-excluded"] as const) {
  void test(`the node drains (${code}): its routes stay, with GRACEFUL_SHUTDOWN, for the wait; then go`, () => {
    const next = state(code, []);
    const first = guardNodeDrain({ advertised, next, drain: undefined, now: 1000 }, SETTINGS);
    assert.deepEqual(first.state.prefixes, advertised.prefixes);
    assert.deepEqual(first.state.gracefulDrain, { since: 1000, until: 6000, prefixes: advertised.prefixes });
    const during = guardNodeDrain({ advertised: first.state, next, drain: first.drain, now: 5999 }, SETTINGS);
    assert.equal(during.state.prefixes.length, 2);
    const after = guardNodeDrain(
      { advertised: during.state, next, drain: during.drain, now: 6000 },
      SETTINGS,
    );
    assert.deepEqual(after.state.prefixes, []);
    assert.equal(after.state.gracefulDrain, undefined);
    // Drained and nothing advertised any more: no new wait.
    assert.equal(
      guardNodeDrain({ advertised: after.state, next, drain: undefined, now: 7000 }, SETTINGS).drain,
      undefined,
    );
  });
}

void test("not a drain (endpoints unready, Services gone), switched off, or nothing advertised: no wait", () => {
  const cases: [string, DesiredState, DesiredState | undefined, typeof SETTINGS][] = [
    ["health", state("no-ready-endpoints", []), advertised, SETTINGS],
    ["node object gone (the breaker's business)", state("node-unknown", []), advertised, SETTINGS],
    ["off", state("node-draining", []), advertised, { ...SETTINGS, enabled: false }],
    ["wait 0", state("node-draining", []), advertised, { ...SETTINGS, waitMs: 0 }],
    ["nothing advertised", state("node-draining", []), state("advertised", []), SETTINGS],
    ["nothing applied yet", state("node-draining", []), undefined, SETTINGS],
  ];
  for (const [name, next, before, settings] of cases) {
    const out = guardNodeDrain({ advertised: before, next, drain: undefined, now: 0 }, settings);
    assert.equal(out.drain, undefined, name);
    assert.equal(out.state, next, name);
  }
});

void test("the drain ends during the wait: the routes stay, without GRACEFUL_SHUTDOWN", () => {
  const first = guardNodeDrain(
    { advertised, next: state("node-draining", []), drain: undefined, now: 0 },
    SETTINGS,
  );
  const back = guardNodeDrain(
    { advertised: first.state, next: advertised, drain: first.drain, now: 1000 },
    SETTINGS,
  );
  assert.equal(back.drain, undefined);
  assert.equal(back.state.gracefulDrain, undefined);
  assert.equal(back.state.prefixes.length, 2);
});
