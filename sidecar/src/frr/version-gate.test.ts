// The version gate on a fake clock with fake version reads: it opens only on matching versions,
// refuses a mismatch for good, retries an unreadable version every RETRY_MS while worth it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock, settle } from "../clock.test-helper.js";
import { NOT_CHECKED, RETRY_MS, VersionGate } from "./version-gate.js";

interface Versions {
  readonly tools: string;
  readonly daemon: string;
}
type Answer = Versions | Error;
const SAME: Versions = { tools: "10.3.1", daemon: "10.3.1" };
const OTHER: Versions = { tools: "10.3.1", daemon: "9.1" };
const UNREADABLE = new Error("bgpd.vty: connection refused");

function setup(answers: Answer[], keepTrying = () => true) {
  const clock = new FakeClock();
  const queue = [...answers];
  let reads = 0;
  let verified = 0;
  const logs: string[] = [];
  const log = (level: string) => (_: object, msg: string) => logs.push(`${level}: ${msg}`);
  const gate = new VersionGate({
    clock,
    versions: () => {
      reads++;
      const a = queue.length > 1 ? queue.shift() : queue[0];
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a ?? SAME);
    },
    keepTrying,
    onVerified: () => verified++,
    log: { info: log("info"), warn: log("warn"), error: log("error") },
  });
  return {
    gate,
    clock,
    logs,
    /** Read anew each time (an assertion on the getter would narrow it for the rest of a test). */
    problem: (): string | undefined => gate.problem,
    get reads() {
      return reads;
    },
    get verified() {
      return verified;
    },
  };
}

const cases: readonly {
  name: string;
  answers: Answer[];
  /** Time given to retries after the first read. */
  ms: number;
  problem: string | RegExp | undefined;
  reads: number;
  verified: number;
  logs: readonly (string | RegExp)[];
}[] = [
  {
    name: "same release: open, one full apply",
    answers: [SAME],
    ms: 10_000,
    problem: undefined,
    reads: 1,
    verified: 1,
    logs: ["info: FRR answers; applying the full config"],
  },
  {
    name: "another release: refused for good, no retry",
    answers: [OTHER],
    ms: 10_000,
    problem: /^FRR version mismatch: .* FRR 10\.3\.1, the running bgpd is FRR 9\.1; refusing to apply/,
    reads: 1,
    verified: 0,
    logs: [/^error: FRR version mismatch/],
  },
  {
    name: "unreadable, then readable: retried after RETRY_MS, then open",
    answers: [UNREADABLE, UNREADABLE, SAME],
    ms: 2 * RETRY_MS,
    problem: undefined,
    reads: 3,
    verified: 1,
    logs: [
      "warn: FRR's version could not be read (retrying): bgpd.vty: connection refused",
      "warn: FRR's version could not be read (retrying): bgpd.vty: connection refused",
      "info: FRR answers; applying the full config",
    ],
  },
];

for (const c of cases)
  void test(`version gate: ${c.name}`, async () => {
    const s = setup(c.answers);
    assert.equal(s.problem(), NOT_CHECKED);
    s.gate.check();
    await settle();
    await s.clock.advance(c.ms);
    if (c.problem instanceof RegExp) assert.match(s.problem() ?? "", c.problem);
    else assert.equal(s.problem(), c.problem);
    assert.equal(s.reads, c.reads);
    assert.equal(s.verified, c.verified);
    assert.equal(s.logs.length, c.logs.length, s.logs.join("\n"));
    c.logs.forEach((l, i) => {
      if (l instanceof RegExp) assert.match(s.logs[i] ?? "", l);
      else assert.equal(s.logs[i], l);
    });
  });

void test("version gate: closed from FRR's start until the read answers; a retry waits RETRY_MS", async () => {
  const s = setup([UNREADABLE, SAME]);
  s.gate.check();
  assert.equal(s.problem(), NOT_CHECKED);
  await settle();
  assert.match(s.problem() ?? "", /could not be read \(retrying\)/);
  await s.clock.advance(RETRY_MS - 1);
  assert.equal(s.reads, 1, "no retry before RETRY_MS");
  await s.clock.advance(1);
  assert.equal(s.reads, 2);
  assert.equal(s.problem(), undefined);
  s.gate.check();
  assert.equal(s.problem(), NOT_CHECKED, "FRR came up again: closed until its version is read");
  await settle();
  assert.equal(s.verified, 2);
});

void test("version gate: no retry once not worth it (FRR gone, drain begun): the problem is an error", async () => {
  let worth = true;
  const s = setup([UNREADABLE], () => worth);
  s.gate.check();
  await settle();
  worth = false;
  await s.clock.advance(RETRY_MS);
  assert.equal(s.reads, 2);
  await s.clock.advance(10 * RETRY_MS);
  assert.equal(s.reads, 2, "no further retry");
  assert.deepEqual(
    s.logs.map((l) => l.split(":")[0]),
    ["warn", "error"],
  );
  assert.equal(s.clock.pending, 0);
});

void test("version gate: FRR up again while a retry waits: one chain of reads, not two", async () => {
  const s = setup([UNREADABLE]);
  s.gate.check();
  await settle();
  s.gate.check();
  await settle();
  assert.equal(s.reads, 2);
  await s.clock.advance(RETRY_MS);
  assert.equal(s.reads, 3, "one retry per RETRY_MS");
  assert.equal(s.clock.pending, 1);
});

void test("version gate: stop() drops the pending retry and a read in flight", async () => {
  const s = setup([UNREADABLE, SAME]);
  s.gate.check();
  await settle();
  s.gate.stop();
  await s.clock.advance(10 * RETRY_MS);
  assert.equal(s.reads, 1);
  s.gate.check();
  s.gate.stop();
  await settle();
  assert.equal(s.verified, 0, "the read finished after stop(): ignored");
});
