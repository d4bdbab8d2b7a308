// The session poll on a fake clock with a fake `show bgp summary json`: what reaches the metrics,
// when it polls, and what /readyz says while no session is Established.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock, settle } from "../clock.test-helper.js";
import type { SessionStatus } from "./bgp-status.js";
import { NO_SESSION_YET, SessionPoll } from "./session-poll.js";

function summary(state: string): unknown {
  return { ipv4Unicast: { peers: { "192.0.2.1": { state, pfxSnt: 3 } } } };
}
const UP = summary("Established");
const CONNECTING = summary("Connect");

function setup(answers: unknown[], readyRequiresSession = true) {
  const clock = new FakeClock();
  const queue = [...answers];
  let reads = 0;
  const observed: (readonly SessionStatus[])[] = [];
  const poll = new SessionPoll({
    clock,
    intervalMs: 10_000,
    summary: () => {
      reads++;
      const a = queue.length > 1 ? queue.shift() : queue[0];
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
    observe: (s) => observed.push(s),
    readyRequiresSession,
  });
  return {
    poll,
    clock,
    observed,
    get reads() {
      return reads;
    },
  };
}

void test("session poll: nothing before the interval, one read per interval into the metrics, none after stop()", async () => {
  const s = setup([UP]);
  s.poll.start();
  await s.clock.advance(9_999);
  assert.equal(s.reads, 0);
  await s.clock.advance(1);
  assert.equal(s.reads, 1);
  assert.deepEqual(s.observed, [[{ peer: "192.0.2.1", family: "ipv4", established: true, prefixesSent: 3 }]]);
  await s.clock.advance(20_000);
  assert.equal(s.reads, 3);
  s.poll.stop();
  await s.clock.advance(100_000);
  assert.equal(s.reads, 3);
  assert.equal(s.clock.pending, 0);
});

void test("session poll: FRR not answering empties the sessions (metrics and readiness) and the loop goes on", async () => {
  const s = setup([UP, new Error("bgpd does not answer"), UP]);
  s.poll.start();
  await s.clock.advance(10_000);
  assert.deepEqual(s.poll.notReadyReasons(), []);
  await s.clock.advance(10_000);
  assert.deepEqual(s.observed.at(-1), []);
  const readsBefore = s.reads;
  assert.deepEqual(s.poll.notReadyReasons(), [NO_SESSION_YET], "the last known session is gone");
  assert.equal(s.reads, readsBefore + 1, "the probe polled");
  await settle();
  assert.deepEqual(s.poll.notReadyReasons(), [], "the probe's poll found the session again");
  s.poll.stop();
});

const readiness: readonly {
  name: string;
  required: boolean;
  answer: unknown;
  /** Reasons at the first probe (nothing polled yet), then at the second (after the first's poll). */
  reasons: readonly (readonly string[])[];
  reads: number;
}[] = [
  {
    name: "required, session comes up",
    required: true,
    answer: UP,
    reasons: [[NO_SESSION_YET], []],
    reads: 1,
  },
  {
    name: "required, no session Established",
    required: true,
    answer: CONNECTING,
    reasons: [[NO_SESSION_YET], [NO_SESSION_YET]],
    reads: 2,
  },
  {
    name: "not required: never a reason, never a poll",
    required: false,
    answer: CONNECTING,
    reasons: [[], []],
    reads: 0,
  },
];

for (const c of readiness)
  void test(`session poll readiness: ${c.name}`, async () => {
    const s = setup([c.answer], c.required);
    const seen: (readonly string[])[] = [];
    for (let i = 0; i < c.reasons.length; i++) {
      seen.push(s.poll.notReadyReasons());
      await settle();
    }
    assert.deepEqual(seen, c.reasons);
    assert.equal(s.reads, c.reads);
  });

void test("session poll: pollWhileWaiting polls only while readiness waits for a session", async () => {
  const s = setup([UP]);
  assert.equal(s.poll.pollWhileWaiting(), true);
  await settle();
  assert.equal(s.reads, 1);
  assert.equal(s.poll.pollWhileWaiting(), false);
  await settle();
  assert.equal(s.reads, 1, "a session is Established: no extra read");
});
