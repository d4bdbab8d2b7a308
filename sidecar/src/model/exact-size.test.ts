// exactSize / exactRecord / knownString: equal content, no shared mutable state, one empty instance.
import assert from "node:assert/strict";
import { test } from "node:test";
import { exactRecord, exactSize, knownString, knownStrings } from "./exact-size.js";

test("exactSize copies; every empty result is the same frozen array", () => {
  const grown: number[] = [];
  for (let i = 0; i < 3; i++) grown.push(i);
  const exact = exactSize(grown);
  assert.deepEqual(exact, [0, 1, 2]);
  assert.notEqual(exact, grown, "a copy: the caller's array can change without touching it");
  assert.equal(exactSize([]), exactSize([]));
  assert.ok(Object.isFrozen(exactSize([])));
  assert.throws(() => (exactSize<number>([]) as number[]).push(1), TypeError);
});

test("exactRecord keeps a record with keys and shares one frozen empty record", () => {
  const record = { a: "1" };
  assert.equal(exactRecord(record), record);
  assert.equal(exactRecord({}), exactRecord({}));
  assert.ok(Object.isFrozen(exactRecord({})));
});

test("knownString maps a known value to the program's literal and leaves others alone", () => {
  const known = knownStrings("ClusterIP", "LoadBalancer");
  assert.equal(knownString(JSON.parse('"ClusterIP"') as string, known), "ClusterIP");
  assert.equal(knownString("Weird", known), "Weird");
});
