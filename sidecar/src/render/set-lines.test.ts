import assert from "node:assert/strict";
import { test } from "node:test";
import { formatSetLines } from "./set-lines.js";

const NONE = {
  communities: [],
  largeCommunities: [],
  localPreference: undefined,
  med: undefined,
  asPathPrepend: [],
};

void test("weighted ECMP: the link bandwidth becomes a transitive extcommunity, after the other sets", () => {
  assert.deepEqual(formatSetLines({ ...NONE, linkBandwidth: 3 }), ["set extcommunity bandwidth 3"]);
  assert.deepEqual(formatSetLines({ ...NONE, communities: ["65000:1"], linkBandwidth: 25600 }), [
    "set community 65000:1 additive",
    "set extcommunity bandwidth 25600",
  ]);
});

void test("a link bandwidth outside FRR's 1..25600 is refused, never rendered", () => {
  assert.throws(() => formatSetLines({ ...NONE, linkBandwidth: 0 }));
  assert.throws(() => formatSetLines({ ...NONE, linkBandwidth: 25601 }));
  assert.throws(() => formatSetLines({ ...NONE, linkBandwidth: 1.5 }));
});
