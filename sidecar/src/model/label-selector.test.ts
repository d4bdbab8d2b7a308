import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { matchesSelector, parseLabelSelector } from "./label-selector.js";
import type { LabelRequirement } from "./policy.js";

void describe("parseLabelSelector: valid selectors", () => {
  const cases: [input: string, expected: LabelRequirement[]][] = [
    ["", []],
    ["   ", []],
    ["a=b", [{ key: "a", op: "in", values: ["b"] }]],
    ["a==b", [{ key: "a", op: "in", values: ["b"] }]],
    ["a!=b", [{ key: "a", op: "notin", values: ["b"] }]],
    ["a=", [{ key: "a", op: "in", values: [""] }]],
    ["a in (y, x,y)", [{ key: "a", op: "in", values: ["x", "y"] }]],
    ["a notin (x)", [{ key: "a", op: "notin", values: ["x"] }]],
    ["a", [{ key: "a", op: "exists" }]],
    ["!a", [{ key: "a", op: "doesnotexist" }]],
    [
      "example.com/tier in (web), ! legacy ,env = prod",
      [
        { key: "example.com/tier", op: "in", values: ["web"] },
        { key: "legacy", op: "doesnotexist" },
        { key: "env", op: "in", values: ["prod"] },
      ],
    ],
  ];
  for (const [input, expected] of cases) {
    void test(JSON.stringify(input), () => {
      const parsed = parseLabelSelector(input);
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
      assert.deepEqual(parsed.requirements, expected);
    });
  }
});

void describe("parseLabelSelector: invalid selectors", () => {
  const cases: [input: string, why: RegExp][] = [
    ["a,", /requirement after ","/],
    [",a", /label key/],
    ["a b", /operator/],
    ["a=b c", /"," between/],
    ["a>1", /not supported/],
    ["a in x", /"\(" after in/],
    ["a in (x y)", /"," or "\)"/],
    ["a in (x", /"," or "\)"/],
    ["!a=b", /"," between/],
    ["-a=b", /label key "-a"/],
    ["a=-b", /label value "-b"/],
    [`a=${"v".repeat(64)}`, /label value/],
    [`${"k".repeat(64)}=v`, /label key/],
    ["Example.com/a=b", /prefix/],
    ["a/b/c=d", /label key/],
    ["in=x", /label key/],
  ];
  for (const [input, why] of cases) {
    void test(JSON.stringify(input), () => {
      const parsed = parseLabelSelector(input);
      assert.equal(parsed.ok, false);
      assert.match(parsed.error, why);
    });
  }
});

void describe("matchesSelector (Kubernetes semantics)", () => {
  const cases: [selector: string, labels: Record<string, string>, matches: boolean][] = [
    ["", {}, true],
    ["a=b", { a: "b" }, true],
    ["a=b", { a: "c" }, false],
    ["a=b", {}, false],
    ["a!=b", { a: "b" }, false],
    ["a!=b", { a: "c" }, true],
    ["a!=b", {}, true], // absent label satisfies !=
    ["a notin (x,y)", {}, true],
    ["a notin (x,y)", { a: "y" }, false],
    ["a in (x,y)", { a: "y" }, true],
    ["a in (x,y)", { a: "z" }, false],
    ["a", { a: "" }, true],
    ["a", { b: "a" }, false],
    ["!a", {}, true],
    ["!a", { a: "" }, false],
    ["a=", { a: "" }, true],
    ["a=b,c", { a: "b" }, false], // every requirement must hold
    ["a=b,c", { a: "b", c: "1" }, true],
    ["toString", {}, false], // no prototype keys
  ];
  for (const [selector, labels, matches] of cases) {
    void test(`${JSON.stringify(selector)} on ${JSON.stringify(labels)} → ${matches}`, () => {
      const parsed = parseLabelSelector(selector);
      assert.ok(parsed.ok);
      assert.equal(matchesSelector(labels, parsed.requirements), matches);
    });
  }
});
