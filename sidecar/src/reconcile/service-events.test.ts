// Which verdict changes become Events on the Service.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Decision } from "../model/desired-state-types.js";
import { planServiceEvents } from "./service-events.js";
import { ServiceEventReporter } from "./service-event-reporter.js";
import type { ReconcileReport } from "./reconciler.js";

const d = (
  service: string,
  address: string,
  advertise: boolean,
  code: Decision["code"] = advertise ? "advertised" : "no-ready-endpoints",
): Decision => ({
  service,
  address,
  kind: "clusterIP",
  advertise,
  code,
  reason: advertise ? "advertised: 1 ready endpoint cluster-wide" : `not advertised: ${code}`,
});

const cases: { name: string; before: Decision[]; after: Decision[]; want: string[] }[] = [
  {
    name: "nothing changed",
    before: [d("a/web", "10.0.0.1", true)],
    after: [d("a/web", "10.0.0.1", true)],
    want: [],
  },
  {
    name: "starts advertising",
    before: [d("a/web", "10.0.0.1", false)],
    after: [d("a/web", "10.0.0.1", true)],
    want: ["a/web Normal Advertised: node n1 advertises 10.0.0.1"],
  },
  {
    name: "stops advertising, with the reason",
    before: [d("a/web", "10.0.0.1", true)],
    after: [d("a/web", "10.0.0.1", false)],
    want: [
      "a/web Normal Withdrawn: node n1 stopped advertising 10.0.0.1 (not advertised: no-ready-endpoints)",
    ],
  },
  {
    name: "both families in one Event",
    before: [],
    after: [d("a/web", "10.0.0.1", true), d("a/web", "fd00::1", true)],
    want: ["a/web Normal Advertised: node n1 advertises 10.0.0.1, fd00::1"],
  },
  {
    name: "refused for a bad annotation: a Warning, once",
    before: [],
    after: [d("a/web", "10.0.0.1", false, "invalid-annotation")],
    want: [
      "a/web Warning Refused: node n1 refuses to advertise 10.0.0.1: not advertised: invalid-annotation",
    ],
  },
  {
    name: "still refused: no repeat",
    before: [d("a/web", "10.0.0.1", false, "invalid-annotation")],
    after: [d("a/web", "10.0.0.1", false, "invalid-annotation")],
    want: [],
  },
  {
    name: "outside allowed CIDRs is a refusal",
    before: [],
    after: [d("a/x", "192.0.2.9", false, "outside-allowed-cidrs")],
    want: [
      "a/x Warning Refused: node n1 refuses to advertise 192.0.2.9: not advertised: outside-allowed-cidrs",
    ],
  },
  { name: "not healthy is not a refusal", before: [], after: [d("a/web", "10.0.0.1", false)], want: [] },
  {
    name: "ready again but damped (it flaps): told once, as a warning",
    before: [d("a/web", "10.0.0.1", false)],
    after: [d("a/web", "10.0.0.1", false, "flap-damped")],
    want: ["a/web Warning Damped: node n1 holds back re-announcing 10.0.0.1: not advertised: flap-damped"],
  },
  {
    name: "still damped: nothing new",
    before: [d("a/web", "10.0.0.1", false, "flap-damped")],
    after: [d("a/web", "10.0.0.1", false, "flap-damped")],
    want: [],
  },
  {
    name: "Service deleted",
    before: [d("a/web", "10.0.0.1", true)],
    after: [],
    want: ["a/web Normal Withdrawn: node n1 stopped advertising 10.0.0.1 (Service deleted)"],
  },
];

for (const c of cases) {
  void test(`events: ${c.name}`, () => {
    const got = planServiceEvents(c.before, c.after, "n1").map(
      (e) => `${e.service} ${e.type} ${e.reason}: ${e.message}`,
    );
    assert.deepEqual(got, c.want);
  });
}

void test("decisions shared by both passes (Services not re-evaluated) are skipped, same result", () => {
  // 1,000 untouched Services whose decision objects are shared, as the reconciler passes them.
  const untouched = Array.from({ length: 1000 }, (_, i) =>
    d(`a/s${i}`, `10.1.${i >> 8}.${i & 255}`, i % 2 === 0),
  );
  for (const c of cases) {
    const shared = planServiceEvents([...untouched, ...c.before], [...c.after, ...untouched], "n1");
    const copies = planServiceEvents(
      [...untouched.map((x) => ({ ...x })), ...c.before],
      [...c.after, ...untouched.map((x) => ({ ...x }))],
      "n1",
    );
    assert.deepEqual(shared, copies, c.name);
    assert.deepEqual(shared, planServiceEvents(c.before, c.after, "n1"), c.name);
  }
});

void test("the first result after start is a silent baseline except for refusals", () => {
  const posted: string[] = [];
  const reporter = new ServiceEventReporter(
    { record: (e) => (posted.push(`${e.reason} ${e.service}`), true) },
    "n1",
  );
  const report = (
    decisions: Decision[],
    outcome: ReconcileReport["outcome"] = "applied",
  ): ReconcileReport => ({
    outcome,
    durationMs: 1,
    state: { prefixes: [], attributeSets: [], decisions, problems: [] },
  });
  reporter.observe(
    report([d("a/web", "10.0.0.1", true), d("a/bad", "10.0.0.2", false, "invalid-annotation")]),
  );
  assert.deepEqual(posted, ["Refused a/bad"]);
  reporter.observe(report([d("a/web", "10.0.0.1", false)], "failed"));
  assert.deepEqual(posted, ["Refused a/bad"], "a failed apply changed nothing in the fabric");
  reporter.observe(report([d("a/web", "10.0.0.1", false)]));
  assert.deepEqual(posted, ["Refused a/bad", "Withdrawn a/web"]);
});

void test("fast passes tell their Services' changes at once; the settle pass after them tells nothing twice", () => {
  const posted: string[] = [];
  const reporter = new ServiceEventReporter(
    { record: (e) => (posted.push(`${e.reason} ${e.service}`), true) },
    "n1",
  );
  const web = d("a/web", "10.0.0.1", true);
  const api = d("a/api", "10.0.0.2", true);
  const full = (decisions: Decision[]): ReconcileReport => ({
    outcome: "applied",
    durationMs: 1,
    state: { prefixes: [], attributeSets: [], decisions, problems: [] },
  });
  const fast = (service: string, decisions: Decision[]): ReconcileReport => ({
    outcome: "applied",
    durationMs: 1,
    state: undefined,
    services: [{ service, decisions }],
  });
  reporter.observe(full([api, web]));
  // A flap shorter than the settle period: both halves are told.
  const webDown = d("a/web", "10.0.0.1", false);
  reporter.observe(fast("a/web", [webDown]));
  const webUp = d("a/web", "10.0.0.1", true);
  reporter.observe(fast("a/web", [webUp]));
  const added = d("a/new", "10.0.0.3", true);
  reporter.observe(fast("a/new", [added]));
  assert.deepEqual(posted, ["Withdrawn a/web", "Advertised a/web", "Advertised a/new"]);
  // The settle pass reports the same verdicts (the very objects): nothing new.
  reporter.observe(full([api, added, webUp]));
  assert.equal(posted.length, 3);
  // A Service deleted on the fast path has no verdicts left: withdrawn.
  reporter.observe(fast("a/api", []));
  assert.deepEqual(posted.slice(3), ["Withdrawn a/api"]);
  reporter.observe(full([added, webUp]));
  assert.equal(posted.length, 4);
});
