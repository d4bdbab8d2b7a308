// The cache marks a Service dirty only when something the model reads changed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ClusterStore } from "./cluster-store.js";
import { toEndpointSliceSnapshot, toNodeSnapshot, toServiceSnapshot } from "./to-snapshot.js";

const service = (annotations: Record<string, string>, status: unknown = {}) =>
  toServiceSnapshot({
    metadata: { name: "web", namespace: "shop", annotations },
    spec: { clusterIPs: ["10.96.0.10"] },
    status,
  });

const slice = (ready: boolean, extra: Record<string, unknown> = {}) =>
  toEndpointSliceSnapshot({
    metadata: { name: "web-1", namespace: "shop", labels: { "kubernetes.io/service-name": "web" }, ...extra },
    addressType: "IPv4",
    endpoints: [{ addresses: ["10.244.0.1"], conditions: { ready }, nodeName: "n1" }],
  });

const node = (labels: Record<string, string>, heartbeat: string) =>
  toNodeSnapshot({
    metadata: { name: "n1", labels },
    status: { conditions: [{ lastHeartbeatTime: heartbeat }] },
  });

function settled(): ClusterStore {
  const store = new ClusterStore();
  store.setNode(node({ zone: "a" }, "t0"));
  store.upsertService(service({ "frr-advertiser.io/med": "10" }));
  store.upsertSlice(slice(true));
  store.takeDirty();
  return store;
}

test("only changes the model reads mark a Service dirty", () => {
  const cases: [string, (s: ClusterStore) => void, { all: boolean; keys: string[] }][] = [
    [
      "kubectl's annotations and status",
      (s) => {
        s.upsertService(
          service(
            { "frr-advertiser.io/med": "10", "kubectl.kubernetes.io/last-applied-configuration": "{}" },
            { conditions: [] },
          ),
        );
      },
      { all: false, keys: [] },
    ],
    [
      "one of our annotations",
      (s) => {
        s.upsertService(service({ "frr-advertiser.io/med": "20" }));
      },
      { all: false, keys: ["shop/web"] },
    ],
    [
      "a slice's labels beyond the service name",
      (s) => {
        s.upsertSlice(slice(true, { annotations: { x: "y" } }));
      },
      { all: false, keys: [] },
    ],
    [
      "an endpoint's readiness",
      (s) => {
        s.upsertSlice(slice(false));
      },
      { all: false, keys: ["shop/web"] },
    ],
    [
      "the kubelet's heartbeat on the Node",
      (s) => {
        s.setNode(node({ zone: "a" }, "t1"));
      },
      { all: false, keys: [] },
    ],
    [
      "a Node label",
      (s) => {
        s.setNode(node({ zone: "b" }, "t1"));
      },
      { all: true, keys: [] },
    ],
    [
      "the Node deleted",
      (s) => {
        s.setNode(undefined);
      },
      { all: true, keys: [] },
    ],
  ];
  for (const [what, change, expected] of cases) {
    const store = settled();
    change(store);
    assert.deepEqual(store.takeDirty(), expected, what);
  }
});

test("snapshots keep only our annotations", () => {
  const s = service({
    "frr-advertiser.io/communities": "65000:1",
    "kubectl.kubernetes.io/last-applied-configuration": "x".repeat(5000),
  });
  assert.deepEqual(s.annotations, { "frr-advertiser.io/communities": "65000:1" });
  const n = toNodeSnapshot({
    metadata: {
      name: "n1",
      annotations: { "frr-advertiser.io/drain": "true", "node.alpha.kubernetes.io/ttl": "0" },
    },
  });
  assert.deepEqual(n.annotations, { "frr-advertiser.io/drain": "true" });
});

test("a Service's slices: several, each replaced by name, moved to another Service, deleted", () => {
  const store = new ClusterStore();
  const named = (name: string, service: string, ip: string, namespace = "shop") =>
    toEndpointSliceSnapshot({
      metadata: { name, namespace, labels: { "kubernetes.io/service-name": service } },
      addressType: "IPv4",
      endpoints: [{ addresses: [ip], conditions: { ready: true }, nodeName: "n1" }],
    });
  const ips = (key: string) =>
    store.slicesOf(key).map((s) => `${s.name}=${s.endpoints[0]?.addresses[0] ?? ""}`);
  store.upsertSlice(named("web-1", "web", "10.244.0.1"));
  store.upsertSlice(named("web-2", "web", "10.244.0.2"));
  store.upsertSlice(named("web-1", "web", "10.244.0.1", "other")); // same names, another namespace
  assert.deepEqual(ips("shop/web"), ["web-1=10.244.0.1", "web-2=10.244.0.2"]);
  assert.deepEqual(ips("other/web"), ["web-1=10.244.0.1"]);
  store.takeDirty();

  store.upsertSlice(named("web-1", "web", "10.244.0.9"));
  assert.deepEqual(ips("shop/web").sort(), ["web-1=10.244.0.9", "web-2=10.244.0.2"]);
  assert.deepEqual(store.takeDirty().keys, ["shop/web"]);

  store.upsertSlice(named("web-2", "api", "10.244.0.2")); // its service-name label changed
  assert.deepEqual(ips("shop/web"), ["web-1=10.244.0.9"]);
  assert.deepEqual(ips("shop/api"), ["web-2=10.244.0.2"]);
  assert.deepEqual(store.takeDirty().keys.sort(), ["shop/api", "shop/web"]);

  store.deleteSlice("shop", "web-1");
  store.retainSlices(new Set(["other/web-1"]));
  assert.deepEqual(ips("shop/web"), []);
  assert.deepEqual(ips("shop/api"), []);
  assert.deepEqual(ips("other/web"), ["web-1=10.244.0.1"]);
});
