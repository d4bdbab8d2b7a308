// The serial queue: one task at a time in call order, past a failure, holding no result.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SerialQueue } from "./serial-queue.js";

void test("tasks run one at a time, in the order queued, past a failed one", async () => {
  const q = new SerialQueue();
  const log: string[] = [];
  const task =
    (name: string, ms: number, fail = false) =>
    async () => {
      log.push(`${name} start`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name} end`);
      if (fail) throw new Error(name);
      return name;
    };
  const a = q.run(task("a", 20));
  const b = q.run(task("b", 1, true));
  const c = q.run(task("c", 1));
  assert.equal(await a, "a");
  await assert.rejects(b, /b/);
  assert.equal(await c, "c");
  assert.deepEqual(log, ["a start", "a end", "b start", "b end", "c start", "c end"]);
});

void test("the tail settles to nothing, not to the last result", async () => {
  const q = new SerialQueue();
  // A task is started by the tail's then(): it is handed what the tail settled to.
  const tail = () => q.run((...settledTo: unknown[]) => Promise.resolve(settledTo[0]));
  assert.equal(await q.run(() => Promise.resolve("a large answer")), "a large answer");
  assert.equal(await tail(), undefined);
  await assert.rejects(q.run(() => Promise.reject(new Error("x"))));
  assert.equal(await tail(), undefined);
});
