// The read-back's repair ladder with fake FRR reads and a fake clock.
import assert from "node:assert/strict";
import { systemClock } from "../clock.js";
import { test } from "node:test";
import type { SessionStatus } from "../frr/bgp-status.js";
import {
  AnnouncementCheck,
  LIST_EVERY_CHECKS,
  LISTING_DEFERRAL_MAX_MS,
  type CheckReport,
} from "./announcement-check.js";

function setup(wanted = ["10.96.0.10/32", "10.96.0.11/32", "fd00:96::1/128"]) {
  let t = 0;
  const sent = new Map<string, Set<string>>([
    ["ipv4", new Set(["10.96.0.10/32"])],
    ["ipv6", new Set(["fd00:96::1/128"])],
  ]);
  const actions: string[] = [];
  const reports: CheckReport[] = [];
  const sessions: SessionStatus[] = [
    { peer: "192.0.2.1", family: "ipv4", established: true, prefixesSent: 1 },
    { peer: "192.0.2.1", family: "ipv6", established: true, prefixesSent: 1 },
    { peer: "192.0.2.9", family: "ipv4", established: false, prefixesSent: 0 },
  ];
  const check = new AnnouncementCheck({
    wanted: () => wanted.map((prefix) => ({ prefix, family: prefix.includes(":") ? "ipv6" : "ipv4" })),
    sessions: () => Promise.resolve(sessions),
    advertised: (peer, family) => {
      assert.equal(peer, "192.0.2.1", "only established peers are read");
      return Promise.resolve(sent.get(family) ?? new Set());
    },
    reannounce: (p) => {
      actions.push(`reannounce ${[...p].join(",")}`);
      return Promise.resolve();
    },
    fullApply: () => actions.push("full apply"),
    report: (r) => reports.push(r),
    stuckAfterMs: 3000,
    clock: { ...systemClock, now: () => t },
  });
  return { check, sent, actions, reports, tick: (ms: number) => (t += ms) };
}

test("a prefix missing at a peer: re-announced once stuck, then a full apply, then reported unrepaired", async () => {
  const { check, actions, reports, tick } = setup();
  try {
    await check.check();
    assert.deepEqual(actions, [], "missing for less than stuckAfterMs: no repair yet");
    tick(3000);
    await check.check();
    assert.deepEqual(actions, ["reannounce 10.96.0.11/32"]);
    assert.deepEqual(reports.at(-1)?.stuck, ["10.96.0.11/32"]);
    tick(1000);
    await check.check();
    assert.equal(actions.length, 1, "the next step waits stuckAfterMs after the last");
    tick(2000);
    await check.check();
    assert.deepEqual(actions, ["reannounce 10.96.0.11/32", "full apply"]);
    assert.deepEqual(reports.at(-1)?.unrepaired, []);
    tick(3000);
    await check.check();
    assert.deepEqual(reports.at(-1)?.unrepaired, ["10.96.0.11/32"]);
    assert.deepEqual(check.unrepaired, ["10.96.0.11/32"]);
    assert.equal(actions.length, 2, "no third repair");
  } finally {
    check.stop();
  }
});

test("a repaired prefix is reported recovered and forgotten", async () => {
  const { check, sent, reports, tick } = setup();
  try {
    await check.check();
    tick(3000);
    await check.check();
    sent.get("ipv4")?.add("10.96.0.11/32");
    tick(100);
    await check.check();
    assert.deepEqual(reports.at(-1)?.recovered, ["10.96.0.11/32"]);
    assert.deepEqual(reports.at(-1)?.stuck, []);
    assert.deepEqual(check.unrepaired, []);
  } finally {
    check.stop();
  }
});

test("nothing applied yet: no read at all", async () => {
  const check = new AnnouncementCheck({
    wanted: () => undefined,
    sessions: () => Promise.reject(new Error("must not be read")),
    advertised: () => Promise.reject(new Error("must not be read")),
    reannounce: () => Promise.resolve(),
    fullApply: () => undefined,
    report: () => undefined,
    stuckAfterMs: 3000,
  });
  assert.equal(await check.check(), undefined);
});

/** A check of one IPv4 peer; `duringRead` runs while bgpd answers (a pass, FRR going away). */
function liveCheck(initial: string[], duringRead: (wanted: string[]) => string[] | undefined) {
  let wanted: string[] | undefined = initial;
  const reports: CheckReport[] = [];
  const check = new AnnouncementCheck({
    wanted: () => wanted?.map((prefix) => ({ prefix, family: "ipv4" as const })),
    sessions: () =>
      Promise.resolve([{ peer: "192.0.2.1", family: "ipv4", established: true, prefixesSent: 1 }]),
    advertised: () => {
      if (wanted !== undefined) wanted = duringRead(wanted);
      return Promise.resolve(new Set(["10.96.0.10/32"]));
    },
    reannounce: () => Promise.resolve(),
    fullApply: () => undefined,
    report: (r) => reports.push(r),
    stuckAfterMs: 0,
  });
  return { check, reports };
}

test("what is wanted is read once bgpd answered: a prefix announced meanwhile counts", async () => {
  const { check } = liveCheck(["10.96.0.10/32"], (w) => [...w, "10.96.0.12/32"]);
  try {
    assert.deepEqual((await check.check())?.stuck, ["10.96.0.12/32"]);
  } finally {
    check.stop();
  }
});

test("FRR restarting while bgpd answers (nothing applied any more): the look ends without a verdict", async () => {
  const { check, reports } = liveCheck(["10.96.0.11/32"], () => undefined);
  try {
    assert.equal(await check.check(), undefined);
    assert.deepEqual(reports, [], "no report, no repair");
    assert.deepEqual(check.unrepaired, []);
  } finally {
    check.stop();
  }
});

test("after applies: one check once they pause, not one per burst of churn", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const { check, reports, tick } = setup();
  // The injected clock and the timers move together.
  const elapse = (ms: number) => {
    tick(ms);
    t.mock.timers.tick(ms);
  };
  try {
    for (let i = 0; i < 5; i++) {
      check.checkWhenQuiet(3000);
      elapse(1000);
      await Promise.resolve();
    }
    assert.equal(reports.length, 0, "applies every second: no read-back yet");
    elapse(2000);
    for (let i = 0; i < 20; i++) await Promise.resolve();
    assert.equal(reports.length, 1, "3 s after the last apply: one read-back");
    check.checkWhenQuiet(3000);
    check.stop();
    elapse(5000);
    for (let i = 0; i < 20; i++) await Promise.resolve();
    assert.equal(reports.length, 1, "none after stop()");
  } finally {
    check.stop();
  }
});

/** One IPv4 peer that bgpd sends our two prefixes and one route of its own; a fake clock. */
function countedCheck() {
  let t = 0;
  const wanted = ["10.96.0.10/32", "10.96.0.11/32"];
  const sent = new Set([...wanted, "192.0.2.100/32"]);
  let prefixesSent = 3;
  const listings: number[] = [];
  const check = new AnnouncementCheck({
    wanted: () => wanted.map((prefix) => ({ prefix, family: "ipv4" as const })),
    sessions: () => Promise.resolve([{ peer: "192.0.2.1", family: "ipv4", established: true, prefixesSent }]),
    advertised: () => {
      listings.push(1);
      return Promise.resolve(new Set(sent));
    },
    reannounce: () => Promise.resolve(),
    fullApply: () => undefined,
    report: () => undefined,
    stuckAfterMs: 0,
    clock: { ...systemClock, now: () => t },
  });
  const listed = () => listings.length;
  return {
    check,
    sent,
    listed,
    setSentCount: (n: number) => (prefixesSent = n),
    tick: (ms: number) => (t += ms),
  };
}

test("bgpd's counts stand in for the listing while they add up; a count that does not is listed", async () => {
  const { check, sent, listed, setSentCount } = countedCheck();
  try {
    await check.check();
    assert.equal(listed(), 1, "the first check lists: nothing is known about the peer's other routes");
    await check.check();
    assert.equal(listed(), 1, "ours plus the one other route: the counts vouch");
    sent.delete("10.96.0.11/32");
    setSentCount(2);
    assert.deepEqual((await check.check())?.stuck, ["10.96.0.11/32"], "one short: listed, found");
    assert.equal(listed(), 2);
    sent.add("10.96.0.11/32");
    setSentCount(3);
    await check.check();
    assert.equal(listed(), 3, "a peer with something missing is listed until a listing finds all");
    await check.check();
    assert.equal(listed(), 3);
  } finally {
    check.stop();
  }
});

test(`a missing prefix hidden by an extra route in the count is found by the listing every ${String(LIST_EVERY_CHECKS)} checks`, async () => {
  const { check, sent, listed } = countedCheck();
  try {
    await check.check();
    // One of ours gone, another route in its place: bgpd's count stays 3.
    sent.delete("10.96.0.10/32");
    sent.add("192.0.2.101/32");
    const stuck: string[][] = [];
    for (let i = 2; i < LIST_EVERY_CHECKS; i++) stuck.push([...((await check.check())?.stuck ?? [])]);
    assert.equal(listed(), 1, "the counts vouched in between");
    assert.ok(stuck.every((s) => s.length === 0));
    assert.deepEqual((await check.check())?.stuck, ["10.96.0.10/32"]);
    assert.equal(listed(), 2);
  } finally {
    check.stop();
  }
});

test("while changes are applied, a count that does not add up is listed once they pause", async () => {
  const { check, listed, setSentCount, tick } = countedCheck();
  try {
    await check.check();
    assert.equal(listed(), 1);
    // An apply, and bgpd's count one short of ours: an update still in flight, most likely.
    check.checkWhenQuiet(3000);
    setSentCount(2);
    tick(1000);
    assert.equal(await check.check(), undefined, "no verdict while applies are recent");
    assert.equal(listed(), 1, "bgpd is not made to list 10k routes between two changes");
    tick(2000);
    await check.check();
    assert.equal(listed(), 2, "quiet for the quiet period: listed");
  } finally {
    check.stop();
  }
});

test(`the listing due every ${String(LIST_EVERY_CHECKS)} checks waits for a pause, but never longer than ${String(LISTING_DEFERRAL_MAX_MS / 1000)} s`, async () => {
  const { check, listed, tick } = countedCheck();
  try {
    await check.check();
    for (let i = 2; i < LIST_EVERY_CHECKS; i++) await check.check();
    assert.equal(listed(), 1, "the counts vouched in between");
    // Churn that never pauses: an apply before every periodic check (10 s apart).
    let waited = 0;
    while (listed() === 1 && waited <= LISTING_DEFERRAL_MAX_MS) {
      check.checkWhenQuiet(3000);
      await check.check();
      tick(10_000);
      waited += 10_000;
    }
    assert.equal(listed(), 2, "listed under churn after all");
    assert.equal(waited, LISTING_DEFERRAL_MAX_MS + 10_000, "put off for the longest allowed, no longer");
  } finally {
    check.stop();
  }
});

test("a prefix known missing is listed at once, applies or not: its repair needs the listing", async () => {
  const { check, sent, listed, setSentCount, tick } = countedCheck();
  try {
    await check.check();
    sent.delete("10.96.0.11/32");
    setSentCount(2);
    assert.deepEqual((await check.check())?.stuck, ["10.96.0.11/32"]);
    assert.equal(listed(), 2);
    check.checkWhenQuiet(3000);
    tick(1000);
    assert.deepEqual((await check.check())?.stuck, ["10.96.0.11/32"], "still listed, still stuck");
    assert.equal(listed(), 3);
  } finally {
    check.stop();
  }
});
