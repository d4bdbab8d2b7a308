// The memory trim on a fake clock (when it collects: after quiet, at the latest after the max
// delay, never while stopped or without a collector), and V8's collection itself in a real node:
// pages a normal collection keeps resident are released by the memory-reducing one.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { FakeClock } from "./clock.test-helper.js";
import { MemoryTrim, memoryReducingCollector, type MemoryTrimReport } from "./memory-trim.js";

function setup(opts: { quietMs?: number; maxDelayMs?: number; collector?: boolean } = {}) {
  const clock = new FakeClock();
  const collectedAt: number[] = [];
  const reports: MemoryTrimReport[] = [];
  let rss = 200;
  const trim = new MemoryTrim({
    clock,
    quietMs: opts.quietMs ?? 5000,
    maxDelayMs: opts.maxDelayMs ?? 60_000,
    collect:
      opts.collector === false
        ? undefined
        : () => {
            collectedAt.push(clock.now());
            rss = 150;
          },
    rss: () => rss,
    elapsedMs: () => clock.now(),
    report: (r) => reports.push(r),
  });
  trim.start();
  return { clock, trim, collectedAt, reports };
}

test("memory trim: one collection once work has been quiet for the quiet period", async () => {
  const { clock, trim, collectedAt, reports } = setup();
  trim.workDone();
  await clock.advance(2000);
  trim.workDone(); // more work: the quiet period starts again
  await clock.advance(4999);
  assert.deepEqual(collectedAt, []);
  await clock.advance(1);
  assert.deepEqual(collectedAt, [7000]);
  assert.deepEqual(reports, [{ ms: 0, rssBeforeBytes: 200, rssAfterBytes: 150 }]);
  await clock.advance(120_000);
  assert.deepEqual(collectedAt, [7000], "no work since: no further collection");
  assert.equal(clock.pending, 0);
});

test("memory trim: under work that never pauses, a collection after the max delay, then again", async () => {
  const { clock, trim, collectedAt } = setup({ quietMs: 5000, maxDelayMs: 60_000 });
  for (let t = 0; t < 150_000; t += 1000) {
    trim.workDone();
    await clock.advance(1000);
  }
  // The first work at 0 → due by 60 000; the first work after that trim (also at 60 000, after
  // it) → 120 000.
  assert.deepEqual(collectedAt, [60_000, 120_000]);
});

test("memory trim: nothing without a collector, with a quiet period of 0, or after stop()", async () => {
  const none = setup({ collector: false });
  assert.equal(none.trim.enabled, false);
  none.trim.workDone();
  assert.equal(none.clock.pending, 0);

  const off = setup({ quietMs: 0 });
  assert.equal(off.trim.enabled, false);
  off.trim.workDone();
  await off.clock.advance(120_000);
  assert.deepEqual(off.collectedAt, []);

  const stopped = setup();
  stopped.trim.workDone();
  stopped.trim.stop();
  assert.equal(stopped.clock.pending, 0, "stop() cancels the pending trim");
  stopped.trim.workDone();
  await stopped.clock.advance(120_000);
  assert.deepEqual(stopped.collectedAt, []);
});

test(
  "memoryReducingCollector: undefined without --expose-gc",
  { skip: typeof (globalThis as { gc?: unknown }).gc === "function" && "this node has --expose-gc" },
  () => {
    assert.equal(memoryReducingCollector(), undefined);
  },
);

// The mechanism this module exists for, on the node that runs the tests (the image's is the same
// major version): after a normal full collection the emptied pages stay resident; the
// memory-reducing one gives them back.
const CHILD = `
import { memoryReducingCollector } from ${JSON.stringify(new URL("./memory-trim.ts", import.meta.url).href)};
import { readFileSync } from "node:fs";
const anonMb = () => Number(/RssAnon:\\s+(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1]) / 1024;
let garbage = [];
for (let i = 0; i < 600000; i++) garbage.push({ i, s: "x" + i, a: [i] });
garbage = null;
globalThis.gc();
globalThis.gc();
const afterNormal = anonMb();
memoryReducingCollector()();
console.log(JSON.stringify({ afterNormal, afterTrim: anonMb() }));
`;

test("memoryReducingCollector: releases the pages a normal collection keeps (real node)", () => {
  const out = execFileSync(
    process.execPath,
    ["--expose-gc", "--max-semi-space-size=4", "--import", "tsx", "--input-type=module", "-e", CHILD],
    { encoding: "utf8" },
  );
  const { afterNormal, afterTrim } = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as {
    afterNormal: number;
    afterTrim: number;
  };
  // ≈ 100 MB of objects built and dropped: ≈ 80 MB stay resident after gc(), ≈ 10 after the trim.
  assert.ok(
    afterNormal - afterTrim > 40,
    `released only ${afterNormal - afterTrim} MB (${afterNormal} → ${afterTrim})`,
  );
});
