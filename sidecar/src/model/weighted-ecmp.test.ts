import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { computeDesiredState } from "./desired-state.js";
import { DEFAULT_MAX_WEIGHT, type AdvertisePolicy } from "./policy.js";
import type { EndpointSliceSnapshot, EndpointSnapshot, NodeSnapshot, ServiceSnapshot } from "./snapshot.js";
import { MAX_LINK_BANDWIDTH, maxWeightOf, weightedEcmpEnabled, weightedEcmpWeight } from "./weighted-ecmp.js";

void describe("weightedEcmpWeight", () => {
  const cases: { name: string; ready: number; terminating: number; max: number; want: number | undefined }[] =
    [
      { name: "one ready endpoint", ready: 1, terminating: 0, max: 100, want: 1 },
      { name: "three ready", ready: 3, terminating: 0, max: 100, want: 3 },
      { name: "ready ones only, terminating ignored", ready: 2, terminating: 5, max: 100, want: 2 },
      { name: "none ready: serving-terminating count", ready: 0, terminating: 4, max: 100, want: 4 },
      { name: "capped at maxWeight", ready: 250, terminating: 0, max: 100, want: 100 },
      { name: "maxWeight 1: every node equal", ready: 7, terminating: 0, max: 1, want: 1 },
      { name: "never above FRR's range", ready: 30000, terminating: 0, max: 99999, want: MAX_LINK_BANDWIDTH },
      {
        name: "nothing usable: no weight (not advertised)",
        ready: 0,
        terminating: 0,
        max: 100,
        want: undefined,
      },
    ];
  for (const c of cases) {
    void test(c.name, () => {
      assert.equal(weightedEcmpWeight({ ready: c.ready, servingTerminating: c.terminating }, c.max), c.want);
    });
  }
});

void describe("weightedEcmpEnabled", () => {
  const policy = (enabled: boolean | undefined): AdvertisePolicy =>
    ({ ...(enabled === undefined ? {} : { weightedEcmp: { enabled, maxWeight: 10 } }) }) as AdvertisePolicy;
  const cases: { config: boolean | undefined; annotation: boolean | undefined; want: boolean }[] = [
    { config: undefined, annotation: undefined, want: false },
    { config: false, annotation: undefined, want: false },
    { config: true, annotation: undefined, want: true },
    { config: true, annotation: false, want: false },
    { config: false, annotation: true, want: true },
    { config: undefined, annotation: true, want: true },
  ];
  for (const c of cases) {
    void test(`config ${String(c.config)}, annotation ${String(c.annotation)} → ${String(c.want)}`, () => {
      assert.equal(weightedEcmpEnabled(policy(c.config), c.annotation), c.want);
    });
  }
  void test("maxWeight defaults to DEFAULT_MAX_WEIGHT", () => {
    assert.equal(maxWeightOf(policy(undefined)), DEFAULT_MAX_WEIGHT);
    assert.equal(maxWeightOf(policy(true)), 10);
  });
});

// The rule inside the model: which addresses are weighted, and the weight as part of the attributes.
const NODE: NodeSnapshot = { name: "n1", labels: {}, annotations: {}, unschedulable: false, taints: [] };
const POLICY: AdvertisePolicy = {
  families: ["ipv4", "ipv6"],
  addressKinds: { clusterIP: true, loadBalancer: true, externalIP: false },
  allowedCidrs: ["0.0.0.0/0", "::/0"],
  excludedIps: [],
  includeNamespaces: [],
  excludeNamespaces: [],
  serviceSelector: [],
  withdrawWhenUnschedulable: false,
  drain: false,
  nodeName: "n1",
  neighborScopes: [],
  weightedEcmp: { enabled: true, maxWeight: 100 },
};

function service(name: string, over: Partial<ServiceSnapshot> = {}): ServiceSnapshot {
  return {
    namespace: "default",
    name,
    type: "LoadBalancer",
    clusterIPs: ["10.96.0.10"],
    loadBalancerIPs: ["192.0.2.10"],
    externalIPs: [],
    externalTrafficPolicy: "Local",
    internalTrafficPolicy: "Cluster",
    publishNotReadyAddresses: false,
    labels: {},
    annotations: {},
    ...over,
  };
}

/** `local` endpoints on n1 (the first `ready` of them ready, the rest serving-terminating), 2 elsewhere. */
function endpoints(name: string, local: number, ready = local): EndpointSliceSnapshot {
  const ep = (i: number, nodeName: string, isReady: boolean): EndpointSnapshot => ({
    addresses: [`10.244.${nodeName === "n1" ? 1 : 2}.${i + 1}`],
    ready: isReady,
    serving: true,
    terminating: !isReady,
    nodeName,
  });
  return {
    namespace: "default",
    name: `${name}-1`,
    serviceName: name,
    addressType: "IPv4",
    endpoints: [
      ...Array.from({ length: local }, (_, i) => ep(i, "n1", i < ready)),
      ep(50, "n2", true),
      ep(51, "n2", true),
    ],
  };
}

/** prefix → its attribute set's link bandwidth (undefined: not weighted). */
function weights(services: ServiceSnapshot[], slices: EndpointSliceSnapshot[], policy = POLICY) {
  const state = computeDesiredState({ services, endpointSlices: slices }, NODE, policy);
  const sets = new Map(state.attributeSets.map((s) => [s.name, s.attributes]));
  return {
    state,
    byPrefix: Object.fromEntries(
      state.prefixes.map((p) => [p.prefix, sets.get(p.attributeSet ?? "")?.linkBandwidth]),
    ),
  };
}

void describe("weighted ECMP in the desired state", () => {
  void test("ETP=Local: the LoadBalancer IP carries the local count; the ClusterIP (ITP=Cluster) does not", () => {
    const { byPrefix, state } = weights([service("web")], [endpoints("web", 3)]);
    assert.deepEqual(byPrefix, { "10.96.0.10/32": undefined, "192.0.2.10/32": 3 });
    const lb = state.decisions.find((d) => d.kind === "loadBalancer");
    assert.ok(lb !== undefined);
    assert.equal(lb.weight, 3);
    assert.match(lb.reason, /3 ready endpoints on node n1 .*; weighted ECMP: link bandwidth 3$/);
  });

  void test("ITP=Local: the ClusterIP is weighted too", () => {
    const { byPrefix } = weights([service("web", { internalTrafficPolicy: "Local" })], [endpoints("web", 2)]);
    assert.deepEqual(byPrefix, { "10.96.0.10/32": 2, "192.0.2.10/32": 2 });
  });

  void test("serving-terminating endpoints count only when none is ready", () => {
    assert.equal(weights([service("web")], [endpoints("web", 4, 0)]).byPrefix["192.0.2.10/32"], 4);
    assert.equal(weights([service("web")], [endpoints("web", 4, 1)]).byPrefix["192.0.2.10/32"], 1);
  });

  void test("ETP=Cluster is never weighted", () => {
    const { byPrefix } = weights(
      [service("web", { externalTrafficPolicy: "Cluster" })],
      [endpoints("web", 3)],
    );
    assert.equal(byPrefix["192.0.2.10/32"], undefined);
  });

  void test("the annotation overrides the config both ways; a malformed value fails closed", () => {
    const off = service("web", { annotations: { "frr-advertiser.io/weighted-ecmp": "false" } });
    assert.equal(weights([off], [endpoints("web", 3)]).byPrefix["192.0.2.10/32"], undefined);
    const on = service("web", { annotations: { "frr-advertiser.io/weighted-ecmp": "true" } });
    const disabled = { ...POLICY, weightedEcmp: { enabled: false, maxWeight: 100 } };
    assert.equal(weights([on], [endpoints("web", 3)], disabled).byPrefix["192.0.2.10/32"], 3);
    const bad = service("web", { annotations: { "frr-advertiser.io/weighted-ecmp": "yes" } });
    const { state } = weights([bad], [endpoints("web", 3)]);
    assert.deepEqual(state.prefixes, []);
    assert.match(state.problems[0] ?? "", /weighted-ecmp="yes" is not a boolean/);
  });

  void test("one route-map per distinct (attributes, weight), shared across Services", () => {
    const tagged = { "frr-advertiser.io/communities": "65000:1" };
    const services = [
      service("a", { clusterIPs: ["10.96.0.1"], loadBalancerIPs: ["192.0.2.1"] }),
      service("b", { clusterIPs: ["10.96.0.2"], loadBalancerIPs: ["192.0.2.2"] }),
      service("c", { clusterIPs: ["10.96.0.3"], loadBalancerIPs: ["192.0.2.3"], annotations: tagged }),
      service("d", { clusterIPs: ["10.96.0.4"], loadBalancerIPs: ["192.0.2.4"] }),
    ];
    const slices = [endpoints("a", 3), endpoints("b", 3), endpoints("c", 3), endpoints("d", 1)];
    const { state } = weights(services, slices);
    const sets = state.attributeSets.map((s) => [
      s.attributes.communities.join(","),
      s.attributes.linkBandwidth,
    ]);
    assert.deepEqual(
      sets.map((s) => JSON.stringify(s)).sort(),
      ['["",1]', '["",3]', '["65000:1",3]', '["65000:1",null]'].sort(),
    );
  });
});
