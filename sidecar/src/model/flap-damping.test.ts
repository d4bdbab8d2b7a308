// Flap damping, as sequences of readiness over time: what is announced when.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ServiceEvaluation } from "./desired-state.js";
import { FlapDamper, type DampingSettings } from "./flap-damping.js";

const SETTINGS: DampingSettings = {
  enabled: true,
  maxFlaps: 3,
  windowMs: 60_000,
  baseBackoffMs: 10_000,
  maxBackoffMs: 40_000,
};

function evaluation(ready: boolean): ServiceEvaluation {
  const ip = "10.96.0.10";
  return {
    service: "default/web",
    decisions: [
      {
        service: "default/web",
        address: ip,
        kind: "clusterIP",
        advertise: ready,
        code: ready ? "advertised" : "no-ready-endpoints",
        reason: ready ? "advertised" : "no ready endpoints",
      },
    ],
    prefixes: ready
      ? [
          {
            ip: { family: "ipv4", value: 0n, text: ip },
            prefix: `${ip}/32`,
            attributes: undefined,
          } as unknown as ServiceEvaluation["prefixes"][number],
        ]
      : [],
    problems: [],
  };
}

/** [time, ready] steps; returns what each step announces (true/false) and its recheck time. */
function run(steps: readonly [number, boolean][], settings = SETTINGS): [boolean, number | undefined][] {
  const damper = new FlapDamper(settings);
  return steps.map(([t, ready]) => {
    const out = damper.apply(evaluation(ready), t);
    return [out.evaluation.prefixes.length > 0, out.recheckAt];
  });
}

/** ready/unready alternating every `gap` ms, `flips` withdrawals, then ready. */
function flapping(withdrawals: number, gap = 1000): [number, boolean][] {
  const steps: [number, boolean][] = [[0, true]];
  for (let k = 0; k < withdrawals; k++) {
    steps.push([(2 * k + 1) * gap, false], [(2 * k + 2) * gap, true]);
  }
  return steps;
}

void test("a Service that does not flap (up to maxFlaps withdrawals) is never delayed", () => {
  const out = run(flapping(3));
  assert.ok(out.every(([announced], i) => announced === (i % 2 === 0)));
  assert.ok(out.every(([, recheck]) => recheck === undefined));
});

void test("one flap too many: re-announcement waits for the base backoff of stability", () => {
  const steps = flapping(4);
  const out = run([...steps, [8000 + 9_999, true], [8000 + 10_000, true]]);
  // Withdrawals are never delayed.
  for (const [i, [, ready]] of steps.entries()) if (!ready) assert.equal(out[i]?.[0], false);
  // The 4th withdrawal's re-announcement (t = 8000) waits 10 s.
  assert.deepEqual(out[8], [false, 18_000]);
  assert.deepEqual(out[9], [false, 18_000]);
  assert.deepEqual(out[10], [true, undefined]);
});

void test("every further flap doubles the backoff, up to the cap; the window forgets old flaps", () => {
  const damper = new FlapDamper(SETTINGS);
  let t = 0;
  const flip = (ready: boolean) => damper.apply(evaluation(ready), (t += 1000));
  flip(true);
  const backoffs: number[] = [];
  for (let k = 0; k < 7; k++) {
    flip(false);
    const r = flip(true);
    if (r.recheckAt !== undefined) backoffs.push(r.recheckAt - t);
  }
  assert.deepEqual(backoffs, [10_000, 20_000, 40_000, 40_000]);
  // A minute later without flaps, a withdrawal and return are not delayed again.
  t += 120_000;
  assert.equal(flip(true).evaluation.prefixes.length, 1);
  flip(false);
  assert.equal(flip(true).evaluation.prefixes.length, 1);
});

void test("while damped: the decisions say why (flap-damped), unready again restarts the wait", () => {
  const damper = new FlapDamper(SETTINGS);
  const steps = flapping(4);
  const outs = steps.map(([t, ready]) => damper.apply(evaluation(ready), t));
  const decision = outs.at(-1)?.evaluation.decisions[0];
  assert.equal(decision?.code, "flap-damped");
  assert.match(decision.reason, /went away 4 times in 60 s/);
  damper.apply(evaluation(false), 12_000);
  const again = damper.apply(evaluation(true), 13_000);
  assert.equal(again.recheckAt, 13_000 + 20_000, "a fifth withdrawal: twice the backoff, from now");
});

void test("off: nothing is ever held; a deleted Service is forgotten", () => {
  const off = run(flapping(10), { ...SETTINGS, enabled: false });
  assert.ok(off.every(([announced], i) => announced === (i % 2 === 0)));
  const damper = new FlapDamper(SETTINGS);
  for (const [t, ready] of flapping(4)) damper.apply(evaluation(ready), t);
  damper.forget("default/web");
  assert.equal(damper.apply(evaluation(true), 9000).evaluation.prefixes.length, 1);
});
