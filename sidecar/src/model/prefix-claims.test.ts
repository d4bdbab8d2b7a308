// PrefixClaims: the prefix changes of a pass, Service by Service, with combineEvaluations' winner rule.
import assert from "node:assert/strict";
import { test } from "node:test";
import { attributesKey } from "./attribute-sets.js";
import { combineEvaluations } from "./desired-state.js";
import type { BgpAttributes } from "./desired-state-types.js";
import { parseIp } from "./ip.js";
import { PrefixClaims } from "./prefix-claims.js";

function wanted(address: string, attributes?: BgpAttributes) {
  const parsed = parseIp(address);
  if (!parsed.ok) throw new Error(address);
  const ip = parsed.value;
  return { ip, prefix: `${ip.text}/${ip.family === "ipv4" ? 32 : 128}`, attributes };
}

const red: BgpAttributes = {
  communities: ["65000:1"],
  largeCommunities: [],
  asPathPrepend: [],
  localPreference: undefined,
  med: undefined,
};
const blue: BgpAttributes = {
  communities: ["65000:2"],
  largeCommunities: [],
  asPathPrepend: [],
  localPreference: undefined,
  med: undefined,
};

test("changes per pass: appear, go, move between attribute sets; a flip within one pass is none", () => {
  const claims = new PrefixClaims();
  const table: [string, () => void, string[]][] = [
    [
      "a claims two",
      () => {
        claims.set("ns/a", [wanted("10.0.0.1"), wanted("fd00::1", red)]);
      },
      ["10.0.0.1/32 - →none", "fd00::1/128 - →red"],
    ],
    [
      "a moves one to blue",
      () => {
        claims.set("ns/a", [wanted("10.0.0.1"), wanted("fd00::1", blue)]);
      },
      ["fd00::1/128 red→blue"],
    ],
    [
      "b claims the same IP with red: a sorts first and keeps blue",
      () => {
        claims.set("ns/b", [wanted("fd00::1", red)]);
      },
      [],
    ],
    [
      "a lets go: b's red wins",
      () => {
        claims.set("ns/a", [wanted("10.0.0.1")]);
      },
      ["fd00::1/128 blue→red"],
    ],
    [
      "b goes and comes back in the same pass",
      () => {
        claims.set("ns/b", []);
        claims.set("ns/b", [wanted("fd00::1", red)]);
      },
      [],
    ],
    [
      "everything goes",
      () => {
        claims.set("ns/a", []);
        claims.set("ns/b", []);
      },
      ["10.0.0.1/32 none→-", "fd00::1/128 red→-"],
    ],
  ];
  const name = (k: string | undefined) =>
    k === undefined ? "-" : k === "" ? "none" : k === attributesKey(red) ? "red" : "blue";
  for (const [what, step, expected] of table) {
    step();
    const got = claims
      .take()
      .map((c) => `${c.prefix} ${name(c.before)}→${name(c.after)}`)
      .sort();
    assert.deepEqual(got, expected.map((e) => e.replace(" - →", " -→")).sort(), what);
  }
});

test("the winner is the one combineEvaluations picks", () => {
  const claims = new PrefixClaims();
  const evaluations = [
    { service: "ns/z", decisions: [], problems: [], prefixes: [wanted("10.0.0.9", blue)] },
    { service: "ns/m", decisions: [], problems: [], prefixes: [wanted("10.0.0.9", red)] },
  ];
  for (const e of evaluations) claims.set(e.service, e.prefixes);
  const [change] = claims.take();
  const state = combineEvaluations(evaluations);
  const set = state.attributeSets.find((s) => s.name === state.prefixes[0]?.attributeSet);
  assert.ok(change !== undefined);
  assert.equal(change.after, attributesKey(set?.attributes));
  assert.equal(change.after, attributesKey(red));
});
