// `why`: the running node's decisions for one Service, next to what bgpd sends each peer.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { DesiredState } from "../model/desired-state-types.js";
import { decisionsView } from "../reconcile/decisions-view.js";
import { explain, formatReport } from "./why-command.js";

const state: DesiredState = {
  prefixes: [
    {
      prefix: "10.96.0.10/32",
      address: "10.96.0.10",
      family: "ipv4",
      attributeSet: "FRRADV-A-1",
      services: ["d/web"],
    },
  ],
  attributeSets: [],
  decisions: [
    {
      service: "d/local",
      address: "10.96.0.20",
      kind: "loadBalancer",
      advertise: false,
      code: "no-local-ready-endpoints",
      reason: "not advertised: no ready endpoint on this node (externalTrafficPolicy Local)",
    },
    {
      service: "d/web",
      address: "10.96.0.10",
      kind: "clusterIP",
      advertise: true,
      code: "advertised",
      reason: "advertised: 1 ready endpoint",
    },
  ],
  problems: [],
};

const summary = {
  ipv4Unicast: {
    peers: { "192.0.2.1": { state: "Established", pfxSnt: 1 }, "192.0.2.9": { state: "Active" } },
  },
};

const frr = {
  bgpSummary: () => Promise.resolve(summary),
  advertisedRoutes: (peer: string) => Promise.resolve(new Set(peer === "192.0.2.1" ? ["10.96.0.10/32"] : [])),
};

void test("decisions view: one Service, with the prefix and attribute set it is announced with", () => {
  const view = decisionsView("n1", state, "d/web");
  assert.deepEqual(view.decisions, [
    {
      service: "d/web",
      address: "10.96.0.10",
      kind: "clusterIP",
      verdict: "advertise",
      code: "advertised",
      reason: "advertised: 1 ready endpoint",
      prefix: "10.96.0.10/32",
      attributeSet: "FRRADV-A-1",
    },
  ]);
  assert.deepEqual(view.prefixes, ["10.96.0.10/32"]);
  assert.equal(decisionsView("n1", state).decisions.length, 2);
});

void test("why: an advertised address is sent to each established peer; a withheld one says why", async () => {
  const web = await explain(decisionsView("n1", state), "d/web", frr);
  assert.deepEqual(web.addresses[0]?.peers, [{ peer: "192.0.2.1", family: "ipv4", sent: true }]);
  const local = await explain(decisionsView("n1", state), "d/local", frr);
  assert.equal(local.addresses[0]?.code, "no-local-ready-endpoints");
  assert.deepEqual(local.addresses[0].peers, [{ peer: "192.0.2.1", family: "ipv4", sent: false }]);
  const text = formatReport(local);
  assert.match(
    text,
    /10\.96\.0\.20 \(loadBalancer\): WITHHOLD \[no-local-ready-endpoints\] .*externalTrafficPolicy Local/,
  );
  assert.match(text, /NOT sent to 192\.0\.2\.1 \(ipv4\)/);
});

void test("why: a Service this node has no decisions for asks FRR nothing", async () => {
  let asked = false;
  const r = await explain(decisionsView("n1", state), "d/nope", {
    bgpSummary: () => {
      asked = true;
      return Promise.resolve(summary);
    },
    advertisedRoutes: () => Promise.resolve(new Set<string>()),
  });
  assert.deepEqual(r.addresses, []);
  assert.equal(asked, false);
  assert.match(formatReport(r), /no decisions/);
});
