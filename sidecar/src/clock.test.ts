// Periodic's start/stop contract, OneShot's re-arming and the fake clock the loops' tests rely on (time order, ties,
// cancel), plus one real-time check of systemClock.
import assert from "node:assert/strict";
import { test } from "node:test";
import { OneShot, Periodic, sleep, systemClock } from "./clock.js";
import { FakeClock } from "./clock.test-helper.js";

const periodicCases: readonly {
  name: string;
  intervalMs: number;
  /** Advance by each step; ticks counted after each. */
  steps: readonly number[];
  ticks: readonly number[];
}[] = [
  {
    name: "nothing before the interval, one per interval",
    intervalMs: 1000,
    steps: [999, 1, 1000, 2500],
    ticks: [0, 1, 2, 4],
  },
  { name: "interval 0 never ticks", intervalMs: 0, steps: [0, 1, 100_000], ticks: [0, 0, 0] },
];

for (const c of periodicCases)
  void test(`Periodic: ${c.name}`, async () => {
    const clock = new FakeClock();
    let ticks = 0;
    const p = new Periodic(clock, c.intervalMs, () => ticks++);
    p.start();
    const seen: number[] = [];
    for (const ms of c.steps) {
      await clock.advance(ms);
      seen.push(ticks);
    }
    assert.deepEqual(seen, c.ticks);
  });

void test("Periodic: start twice is one timer; stop() stops it and a second stop is harmless", async () => {
  const clock = new FakeClock();
  let ticks = 0;
  const p = new Periodic(clock, 100, () => ticks++);
  p.start();
  p.start();
  assert.equal(clock.pending, 1);
  await clock.advance(100);
  assert.equal(ticks, 1);
  p.stop();
  p.stop();
  assert.equal(clock.pending, 0);
  await clock.advance(1000);
  assert.equal(ticks, 1, "no tick after stop()");
  p.start();
  await clock.advance(100);
  assert.equal(ticks, 2, "a stopped loop can start again");
});

void test("OneShot: arming again replaces the pending run; armed until it fires; stop() cancels", async () => {
  const clock = new FakeClock();
  const timer = new OneShot(clock);
  const fired: string[] = [];
  timer.arm(100, () => fired.push("first"));
  timer.arm(300, () => fired.push("second"));
  assert.equal(clock.pending, 1, "one timer on the clock");
  await clock.advance(200);
  assert.deepEqual([...fired], [], "the replaced run never comes");
  assert.equal(timer.armed, true);
  await clock.advance(100);
  assert.deepEqual([...fired], ["second"]);
  assert.equal(timer.armed, false, "cleared once it fired");
  timer.arm(-5, () => fired.push("negative is now"));
  timer.stop();
  await clock.advance(1000);
  assert.deepEqual([...fired], ["second"]);
  assert.equal(clock.pending, 0);
  // A run that re-arms the timer from its own callback stays armed.
  timer.arm(10, () => {
    timer.arm(10, () => fired.push("again"));
  });
  await clock.advance(10);
  assert.equal(timer.armed, true);
  await clock.advance(10);
  assert.deepEqual([...fired], ["second", "again"]);
});

void test("FakeClock: timers fire in time order, ties in the order armed, at their due time", async () => {
  const clock = new FakeClock(1000);
  const fired: string[] = [];
  const at = (name: string) => () => fired.push(`${name}@${clock.now()}`);
  clock.after(30, at("c"));
  clock.after(10, at("a"));
  clock.after(30, at("d"));
  const cancelB = clock.after(20, at("b"));
  const stopE = clock.every(25, at("e"));
  cancelB();
  await clock.advance(29);
  assert.deepEqual(fired, ["a@1010", "e@1025"]);
  assert.equal(clock.now(), 1029);
  await clock.advance(21);
  assert.deepEqual(fired, ["a@1010", "e@1025", "c@1030", "d@1030", "e@1050"]);
  stopE();
  await clock.advance(100);
  assert.equal(fired.length, 5);
  assert.equal(clock.pending, 0);
});

void test("FakeClock: a timer armed by a firing timer fires in the same advance when due", async () => {
  const clock = new FakeClock();
  const fired: number[] = [];
  clock.after(10, () => {
    fired.push(clock.now());
    clock.after(5, () => fired.push(clock.now()));
  });
  await clock.advance(15);
  assert.deepEqual(fired, [10, 15]);
});

void test("systemClock: after() fires once, a cancelled timer never; sleep waits", async (t) => {
  // systemClock's timers do not keep a process alive; this one does, for the test's length.
  const keepAlive = setInterval(() => undefined, 1000);
  t.after(() => {
    clearInterval(keepAlive);
  });
  const fired: string[] = [];
  systemClock.after(5, () => fired.push("kept"));
  const cancel = systemClock.after(5, () => fired.push("cancelled"));
  cancel();
  const stopEvery = systemClock.every(5, () => fired.push("tick"));
  const t0 = systemClock.now();
  await sleep(systemClock, 30);
  stopEvery();
  assert.ok(systemClock.now() - t0 >= 25, "sleep waited");
  assert.ok(fired.includes("kept"));
  assert.ok(!fired.includes("cancelled"));
  assert.ok(fired.filter((f) => f === "tick").length >= 2);
  const ticks = fired.length;
  await sleep(systemClock, 20);
  assert.equal(fired.length, ticks, "nothing after cancel");
});
