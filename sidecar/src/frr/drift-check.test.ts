// The drift check on a fake clock with a fake frr-reload.py --test: what counts as drift, when it
// looks, and that a failed look is logged and the next period looks again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../clock.test-helper.js";
import { CHECK_SOON_MS, DriftCheck } from "./drift-check.js";
import type { ReloadDiff } from "./frr-client.js";

const NONE: ReloadDiff = { toAdd: [], toDelete: [] };
const DRIFT: ReloadDiff = { toAdd: ["router bgp 65001", " network 10.96.0.10/32"], toDelete: [] };

function setup(
  opts: {
    intervalMs?: number;
    applied?: boolean;
    diffs?: (ReloadDiff | Error)[];
    /** The applier's token at each inStep() call (default: always 7; `applied: false`: undefined). */
    tokens?: (number | undefined)[];
  } = {},
) {
  const clock = new FakeClock();
  const diffs = [...(opts.diffs ?? [DRIFT])];
  let diffCalls = 0;
  let fullApplies = 0;
  const warnings: { fields: object; msg: string }[] = [];
  const check = new DriftCheck({
    clock,
    intervalMs: opts.intervalMs ?? 1000,
    inStep: () => {
      if (opts.applied === false) return undefined;
      const tokens = opts.tokens ?? [7];
      return tokens.length > 1 ? tokens.shift() : tokens[0];
    },
    diff: () => {
      diffCalls++;
      const d = diffs.length > 1 ? diffs.shift() : diffs[0];
      return d instanceof Error ? Promise.reject(d) : Promise.resolve(d ?? NONE);
    },
    requestFullApply: () => fullApplies++,
    log: { warn: (fields, msg) => warnings.push({ fields, msg }) },
  });
  return {
    check,
    clock,
    warnings,
    get diffCalls() {
      return diffCalls;
    },
    get fullApplies() {
      return fullApplies;
    },
  };
}

const cases: readonly {
  name: string;
  applied?: boolean;
  diff: ReloadDiff | Error;
  diffCalls: number;
  fullApplies: number;
  warnings: readonly string[];
}[] = [
  {
    name: "drift: one full apply request",
    diff: DRIFT,
    diffCalls: 1,
    fullApplies: 1,
    warnings: ["FRR's running config drifted from frr.conf; re-applying"],
  },
  { name: "no difference: nothing", diff: NONE, diffCalls: 1, fullApplies: 0, warnings: [] },
  {
    name: "only the lines FRR lists on every run: not drift",
    diff: {
      toAdd: ["frr version 10.3", "hostname node-a"],
      toDelete: ["no hostname pod-1", "ipv6 forwarding"],
    },
    diffCalls: 1,
    fullApplies: 0,
    warnings: [],
  },
  {
    name: "nothing applied yet: FRR is not even asked",
    applied: false,
    diff: DRIFT,
    diffCalls: 0,
    fullApplies: 0,
    warnings: [],
  },
  {
    name: "frr-reload.py fails: logged, no apply",
    diff: new Error("frr-reload.py --test failed"),
    diffCalls: 1,
    fullApplies: 0,
    warnings: ["drift check failed"],
  },
];

for (const c of cases)
  void test(`drift check: ${c.name}`, async () => {
    const s = setup({ applied: c.applied ?? true, diffs: [c.diff] });
    s.check.start();
    await s.clock.advance(1000);
    assert.equal(s.diffCalls, c.diffCalls);
    assert.equal(s.fullApplies, c.fullApplies);
    assert.deepEqual(
      s.warnings.map((w) => w.msg),
      c.warnings,
    );
    s.check.stop();
  });

void test("drift check: nothing before the interval, one look per interval, none after stop()", async () => {
  const s = setup();
  s.check.start();
  await s.clock.advance(999);
  assert.equal(s.diffCalls, 0, "not at start: FRR's config was just applied");
  await s.clock.advance(1);
  assert.deepEqual([s.diffCalls, s.fullApplies], [1, 1]);
  assert.deepEqual(s.warnings[0]?.fields, { add: 2, delete: 0 });
  await s.clock.advance(2000);
  assert.deepEqual([s.diffCalls, s.fullApplies], [3, 3]);
  s.check.stop();
  await s.clock.advance(10_000);
  assert.deepEqual([s.diffCalls, s.fullApplies], [3, 3]);
  assert.equal(s.clock.pending, 0);
});

void test("drift check: not while frr.conf is behind FRR, nor when FRR or the file changed during the look", async () => {
  // Fast changes waiting for the settle pass: FRR is not asked (the file lags FRR by design).
  const behind = setup({ tokens: [undefined] });
  behind.check.start();
  await behind.clock.advance(1000);
  assert.deepEqual([behind.diffCalls, behind.fullApplies], [0, 0]);
  behind.check.stop();
  // A change went to FRR while frr-reload.py compared: the difference may be that change.
  const moved = setup({ tokens: [7, 9, 9, 9] });
  moved.check.start();
  await moved.clock.advance(1000);
  assert.deepEqual([moved.diffCalls, moved.fullApplies, moved.warnings.length], [1, 0, 0]);
  // The next period, nothing moving: a real drift is acted on.
  await moved.clock.advance(1000);
  assert.deepEqual([moved.diffCalls, moved.fullApplies], [2, 1]);
  moved.check.stop();
});

void test("drift check: a failed look is logged and the next period looks again", async () => {
  const s = setup({ diffs: [new Error("timed out"), DRIFT] });
  s.check.start();
  await s.clock.advance(1000);
  assert.deepEqual(s.warnings, [{ fields: { err: "Error: timed out" }, msg: "drift check failed" }]);
  assert.equal(s.fullApplies, 0);
  await s.clock.advance(1000);
  assert.equal(s.fullApplies, 1);
  s.check.stop();
});

void test("drift check: interval 0 is off", async () => {
  const s = setup({ intervalMs: 0 });
  s.check.start();
  assert.equal(s.clock.pending, 0);
  await s.clock.advance(86_400_000);
  assert.equal(s.diffCalls, 0);
});

void test("drift check soon: one look CHECK_SOON_MS after a start without frr-reload.py, periods off included; none after stop", async () => {
  const s = setup({ intervalMs: 0 });
  s.check.start();
  s.check.soon();
  s.check.soon(); // asked twice: still one look
  await s.clock.advance(CHECK_SOON_MS - 1);
  assert.equal(s.diffCalls, 0);
  await s.clock.advance(1);
  assert.deepEqual([s.diffCalls, s.fullApplies], [1, 1]);
  await s.clock.advance(86_400_000);
  assert.equal(s.diffCalls, 1);
  const stopped = setup({ intervalMs: 0 });
  stopped.check.soon();
  stopped.check.stop();
  stopped.check.soon();
  await stopped.clock.advance(CHECK_SOON_MS);
  assert.equal(stopped.diffCalls, 0);
  assert.equal(stopped.clock.pending, 0);
});
