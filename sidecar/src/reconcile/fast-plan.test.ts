// planFastPass: which prefix changes a fast pass can send, and what a new attribute set brings.
import assert from "node:assert/strict";
import { test } from "node:test";
import { attributesKey } from "../model/attribute-sets.js";
import type { BgpAttributes } from "../model/desired-state-types.js";
import type { PrefixChange } from "../model/prefix-claims.js";
import { NetworkShapes, parseConf, type RouteMapEntry } from "../frr/config-delta.js";
import { planFastPass, type FastPlanContext } from "./fast-plan.js";

const attrs = (med: number): BgpAttributes => ({
  communities: [],
  largeCommunities: [],
  localPreference: undefined,
  med,
  asPathPrepend: [],
});

/** A template in miniature: one route-map per set, then one statement per prefix. */
function miniRender(
  prefixes: readonly { prefix: string; attributeSet: string | undefined }[],
  sets: readonly { name: string; attributes: BgpAttributes }[],
): string {
  const maps = sets.map((s) => `route-map ${s.name} permit 10\n set metric ${s.attributes.med ?? 0}\nexit\n`);
  const nets = prefixes.map(
    (p) => `  network ${p.prefix}${p.attributeSet === undefined ? "" : ` route-map ${p.attributeSet}`}\n`,
  );
  return `${maps.join("")}router bgp 1\n address-family ipv4 unicast\n${nets.join("")} exit-address-family\nexit\n`;
}

const plainShapes = NetworkShapes.learn(
  parseConf(miniRender([{ prefix: "10.0.0.1/32", attributeSet: undefined }], []))!,
  [{ prefix: "10.0.0.1/32", family: "ipv4", attributeSet: undefined }],
);

const change = (prefix: string, med: number | undefined): PrefixChange => ({
  prefix,
  address: prefix.replace("/32", ""),
  family: "ipv4",
  before: undefined,
  after: med === undefined ? "" : attributesKey(attrs(med)),
  afterAttributes: med === undefined ? undefined : attrs(med),
});

const ctx = (over: Partial<FastPlanContext> = {}): FastPlanContext => ({
  setNames: new Map(),
  shapes: plainShapes,
  runningRouteMaps: new Map(),
  routeMapUse: new Map(),
  renderAlone: (p, s) => miniRender(p, s),
  ...over,
});

void test("a prefix without attributes is placed like the last render placed one", () => {
  const plan = planFastPass([change("10.0.0.2/32", undefined)], ctx());
  assert.deepEqual(
    plan?.added.map((p) => p.line),
    ["network 10.0.0.2/32"],
  );
  assert.deepEqual(plan.routeMaps.added, []);
});

void test("a new attribute set: its entry from a render of its prefixes alone, named as the full render names it", () => {
  const plan = planFastPass([change("10.0.0.2/32", 50), change("10.0.0.3/32", 50)], ctx());
  const name = plan?.names.get(attributesKey(attrs(50)));
  assert.match(name ?? "", /^FRRADV-A-/);
  assert.deepEqual(plan?.routeMaps.added, [
    { name, header: `route-map ${name} permit 10`, body: ["set metric 50"] },
  ]);
  assert.deepEqual(
    plan.added.map((p) => p.line),
    [`network 10.0.0.2/32 route-map ${name}`, `network 10.0.0.3/32 route-map ${name}`],
  );
});

const refusals: [string, Partial<FastPlanContext>][] = [
  [
    "the render of the set alone fails",
    {
      renderAlone: () => {
        throw new Error("template error");
      },
    },
  ],
  [
    "FRR runs another entry under the same name",
    {
      runningRouteMaps: new Map<string, RouteMapEntry>([
        [
          `route-map ${planFastPass([change("10.0.0.2/32", 50)], ctx())?.names.get(attributesKey(attrs(50))) ?? ""} permit 10`,
          { name: "x", header: "x", body: ["set metric 99"] },
        ],
      ]),
    },
  ],
  [
    "a running set's name would change (hash collision)",
    { setNames: new Map([[attributesKey(attrs(7)), "FRRADV-A-0"]]) },
  ],
  ["no shape is known for prefixes without attributes", { shapes: NetworkShapes.none }],
];

for (const [name, over] of refusals) {
  void test(`full path when ${name}`, () => {
    const changes = name.startsWith("no shape")
      ? [change("10.0.0.2/32", undefined)]
      : [change("10.0.0.2/32", 50)];
    assert.equal(planFastPass(changes, ctx(over)), undefined);
  });
}

/** A running set: its name as the full render gives it, its two route-map entries, its users. */
function runningSet(med: number, users: number): Partial<FastPlanContext> {
  const key = attributesKey(attrs(med));
  const name = planFastPass([change("10.0.0.250/32", med)], ctx())?.names.get(key) ?? "";
  const shapes = NetworkShapes.learn(
    parseConf(
      miniRender([{ prefix: "10.0.0.1/32", attributeSet: name }], [{ name, attributes: attrs(med) }]),
    )!,
    [{ prefix: "10.0.0.1/32", family: "ipv4", attributeSet: name }],
  );
  const entry = (seq: number): [string, RouteMapEntry] => [
    `route-map ${name} permit ${seq}`,
    { name, header: `route-map ${name} permit ${seq}`, body: [`set metric ${med}`] },
  ];
  return {
    setNames: new Map([[key, name]]),
    shapes: plainShapes.with(shapes),
    runningRouteMaps: new Map([
      entry(10),
      entry(20),
      ["route-map OTHER permit 10", { name: "OTHER", header: "route-map OTHER permit 10", body: [] }],
    ]),
    routeMapUse: new Map([
      [name, users],
      ["OTHER", 1],
    ]),
  };
}

const leaving = (prefix: string, med: number, to: number | undefined | null): PrefixChange => ({
  prefix,
  address: prefix.replace("/32", ""),
  family: "ipv4",
  before: attributesKey(attrs(med)),
  after: to === null ? undefined : to === undefined ? "" : attributesKey(attrs(to)),
  afterAttributes: to === null || to === undefined ? undefined : attrs(to),
});

void test("the last statement of a set leaves: every entry of its route-map goes after the statements", () => {
  const running = runningSet(50, 2);
  const plan = planFastPass(
    [leaving("10.0.0.1/32", 50, null), leaving("10.0.0.2/32", 50, undefined)],
    ctx(running),
  );
  assert.ok(plan);
  const name = [...(running.setNames?.values() ?? [])][0] ?? "";
  assert.deepEqual(
    plan.routeMaps.removed.map((e) => e.header),
    [`route-map ${name} permit 10`, `route-map ${name} permit 20`],
  );
  assert.deepEqual([...plan.retired], [[attributesKey(attrs(50)), name]]);
  assert.deepEqual(
    plan.added.map((p) => p.line),
    ["network 10.0.0.2/32"],
  );
});

void test("a set other statements still use keeps its route-map", () => {
  const plan = planFastPass([leaving("10.0.0.1/32", 50, null)], ctx(runningSet(50, 2)));
  assert.ok(plan);
  assert.deepEqual(plan.routeMaps.removed, []);
  assert.equal(plan.retired.size, 0);
});

void test("a set emptied and refilled in one batch keeps its route-map", () => {
  const back: PrefixChange = { ...change("10.0.0.3/32", 50) };
  const plan = planFastPass([leaving("10.0.0.1/32", 50, null), back], ctx(runningSet(50, 1)));
  assert.ok(plan);
  assert.deepEqual(plan.routeMaps.removed, []);
  assert.equal(plan.retired.size, 0);
});

void test("a prefix moves from a set it was the last of to a new one: new route-map first, old one last", () => {
  const plan = planFastPass([leaving("10.0.0.1/32", 50, 60)], ctx(runningSet(50, 1)));
  assert.ok(plan);
  assert.equal(plan.routeMaps.added.length, 1);
  assert.equal(plan.routeMaps.removed.length, 2);
  assert.deepEqual(
    plan.removed.map((p) => p.line),
    [`network 10.0.0.1/32 route-map ${[...plan.retired.values()][0] ?? ""}`],
  );
});

void test("without FRR's statement counts no route-map is removed", () => {
  const plan = planFastPass(
    [leaving("10.0.0.1/32", 50, null)],
    ctx({ ...runningSet(50, 1), routeMapUse: undefined }),
  );
  assert.ok(plan);
  assert.deepEqual(plan.routeMaps.removed, []);
});
