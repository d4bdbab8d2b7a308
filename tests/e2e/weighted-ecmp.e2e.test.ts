// Weighted ECMP (advertise.weightedEcmp): two nodes behind one tor; an ETP=Local Service with 3
// ready endpoints on node A and 1 on node B reaches the tor's FIB with next-hop weights 3:1, which
// follow endpoints becoming ready and unready without a session reset; opted out and ETP=Cluster
// Services keep equal weights.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { TorNextHop } from "../lab/netns-lab.js";
import {
  createClusterSidecarLab,
  NODE_NAMES,
  service,
  slice,
  type ClusterSidecarLab,
  type EndpointOptions,
} from "./harness.js";
import { ROUTE_WAIT, SETUP_TIMEOUT, SKIP, TEST_TIMEOUT, waitUntil, withDiagnostics } from "./e2e-helpers.js";

const [NODE_A = "node-a", NODE_B = "node-b"] = NODE_NAMES;
const A = 0;
const B = 1;
/** ETP=Local, weighted (the config's default). */
const WEIGHTED = "203.0.113.30/32";
/** ETP=Local, annotation weighted-ecmp: "false". */
const OPTED_OUT = "203.0.113.40/32";
/** ETP=Cluster: every node forwards anywhere, never weighted. */
const CLUSTER = "203.0.113.50/32";

const endpoints = (a: number, b: number, readyA = a): EndpointOptions[] => [
  ...Array.from({ length: a }, (_, i) => ({ nodeName: NODE_A, ready: i < readyA })),
  ...Array.from({ length: b }, () => ({ nodeName: NODE_B })),
];

const objects = () => [
  service("weighted", { clusterIPs: ["10.96.0.30"], lbIPs: ["203.0.113.30"], etp: "Local" }),
  slice("weighted", endpoints(3, 1)),
  service("opted-out", {
    clusterIPs: ["10.96.0.40"],
    lbIPs: ["203.0.113.40"],
    etp: "Local",
    annotations: { "frr-advertiser.io/weighted-ecmp": "false" },
  }),
  slice("opted-out", endpoints(3, 1)),
  service("cluster", { clusterIPs: ["10.96.0.50"], lbIPs: ["203.0.113.50"], etp: "Cluster" }),
  slice("cluster", endpoints(3, 1)),
];

/** Node A's and node B's kernel weights for `prefix` at the tor, when it has exactly those two. */
function weightsOf(hops: readonly TorNextHop[]): [number, number] | undefined {
  const a = hops.filter((h) => h.node === A);
  const b = hops.filter((h) => h.node === B);
  if (hops.length !== 2 || a.length !== 1 || b.length !== 1) return undefined;
  return [a[0]!.weight, b[0]!.weight];
}

/** FRR scales the weights (e.g. 3:1 → 75/25), so compare the ratio, allowing for its rounding. */
function hasRatio(weights: [number, number] | undefined, a: number, b: number): boolean {
  if (weights === undefined) return false;
  const [wa, wb] = weights;
  return Math.abs(wa * b - wb * a) <= Math.max(a, b);
}

void describe("weighted ECMP: two nodes, one tor", { skip: SKIP }, () => {
  let env: ClusterSidecarLab | undefined;
  let last = "";

  before(
    async () => {
      env = await createClusterSidecarLab({ objects: objects(), weightedEcmp: true });
      try {
        for (const n of env.nodes) n.start();
        await Promise.all(env.nodes.map((n) => n.waitReady()));
        await env.lab.waitForSession(ROUTE_WAIT);
      } catch (e) {
        await env.stop();
        env = undefined;
        throw e;
      }
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
  });

  const diag = (body: () => Promise<void>) => () => withDiagnostics(env?.nodes[A], body);

  async function waitRatio(prefix: string, a: number, b: number): Promise<void> {
    await waitUntil(
      async () => {
        const hops = (await env!.lab.torFibNextHops(4)).get(prefix) ?? [];
        last = JSON.stringify(hops);
        return hasRatio(weightsOf(hops), a, b);
      },
      ROUTE_WAIT,
      `${prefix} in the tor's FIB with next-hop weights ${a}:${b} (node A:node B); last ${last}`,
    );
  }

  void test(
    "3 ready endpoints on node A, 1 on node B: the tor's FIB weighs the next hops 3:1",
    { timeout: TEST_TIMEOUT },
    diag(async () => {
      await waitRatio(WEIGHTED, 3, 1);
      const paths = await env!.lab.torPaths(WEIGHTED);
      assert.equal(paths.filter((p) => p.multipath).length, 2, "both paths multipath");
      const decisions = await env!.nodes[A]!.sidecar!.get("/decisions?service=default/weighted");
      assert.match(decisions.body, /"weight": 3/, "node A's decision names its weight");
      // FRR prints the set line as rendered, so frr-reload.py sees no difference (no drift).
      const running = await env!.lab.nodes[A]!.vtysh("node", "show running-config");
      assert.match(running, /^ set extcommunity bandwidth 3$/m, running);
    }),
  );

  void test(
    "the weights follow endpoints becoming unready and ready, without a session reset",
    { timeout: TEST_TIMEOUT },
    diag(async () => {
      const e = env!;
      const sessions = await e.lab.torSessions();
      e.api.upsert(slice("weighted", endpoints(3, 1, 1)));
      await waitRatio(WEIGHTED, 1, 1);
      e.api.upsert(slice("weighted", endpoints(3, 2, 2)));
      await waitRatio(WEIGHTED, 2, 2);
      e.api.upsert(slice("weighted", endpoints(3, 1)));
      await waitRatio(WEIGHTED, 3, 1);
      const now = await e.lab.torSessions();
      for (const s of sessions) {
        const same = now.find((n) => n.afi === s.afi && n.peer === s.peer);
        assert.equal(same?.state, "Established", `${s.peer} (${s.afi}) still established`);
        assert.equal(same.dropped, s.dropped, `${s.peer} (${s.afi}) never dropped`);
      }
    }),
  );

  void test(
    "opted out by annotation, and ETP=Cluster: equal weights",
    { timeout: TEST_TIMEOUT },
    diag(async () => {
      await waitRatio(OPTED_OUT, 1, 1);
      await waitRatio(CLUSTER, 1, 1);
      const fib = await env!.lab.torFibNextHops(4);
      for (const prefix of [OPTED_OUT, CLUSTER]) {
        const w = weightsOf(fib.get(prefix) ?? []);
        assert.ok(w !== undefined && w[0] === w[1], `${prefix}: equal weights, got ${JSON.stringify(w)}`);
      }
    }),
  );
});
