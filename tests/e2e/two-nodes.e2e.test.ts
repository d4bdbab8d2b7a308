// Two nodes (each FRR + sidecar) behind one tor with ECMP, one cluster (one API): ETP=Cluster
// Services from both nodes, ETP=Local only from the endpoint's node, a rolling restart that never
// leaves the tor without a path, and graceful drains (SIGTERM, the drain annotation) that move the
// tor's best path to the other node before the withdrawal.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { TorNextHop, TorPath } from "../lab/netns-lab.js";
import {
  createClusterSidecarLab,
  NODE_NAMES,
  nodeNamed,
  service,
  slice,
  type ClusterSidecarLab,
  type SidecarLab,
} from "./harness.js";
import {
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  TEST_TIMEOUT,
  TorSampler,
  waitUntil,
  withDiagnostics,
} from "./e2e-helpers.js";

const [NODE_A = "node-a", NODE_B = "node-b"] = NODE_NAMES;
const A = 0;
const B = 1;
/** ETP=Cluster LoadBalancer: its one endpoint is on node A, both nodes announce it. */
const WEB = "203.0.113.10/32";
/** ETP=Local LoadBalancer: only the node with its endpoint announces it. */
const LOCAL = "203.0.113.20/32";
const WAIT_SECONDS = 3;

const objects = () => [
  service("web", { clusterIPs: ["10.96.0.10"], lbIPs: ["203.0.113.10"], etp: "Cluster" }),
  slice("web", [{ ready: true, nodeName: NODE_A }]),
  service("local", { clusterIPs: ["10.96.0.20"], lbIPs: ["203.0.113.20"], etp: "Local" }),
  slice("local", [{ ready: true, nodeName: NODE_A }]),
];

const nodesOf = (items: readonly { node: number | null }[]): (number | null)[] =>
  items.map((i) => i.node).sort();

/** The tor holds `prefix` from exactly these nodes (BGP paths, all ECMP when several), and its FIB too. */
async function fromNodes(env: ClusterSidecarLab, prefix: string, nodes: readonly number[]): Promise<boolean> {
  const paths = await env.lab.torPaths(prefix);
  const hops = (await env.lab.torFibNextHops(4)).get(prefix) ?? [];
  const ecmp = nodes.length < 2 || paths.every((p) => p.multipath);
  return (
    JSON.stringify(nodesOf(paths.filter((p) => p.valid))) === JSON.stringify([...nodes].sort()) &&
    JSON.stringify(nodesOf(hops)) === JSON.stringify([...nodes].sort()) &&
    ecmp
  );
}

async function waitFromNodes(
  env: ClusterSidecarLab,
  prefix: string,
  nodes: readonly number[],
): Promise<void> {
  await waitUntil(
    () => fromNodes(env, prefix, nodes),
    ROUTE_WAIT,
    `${prefix} at the tor from node(s) ${nodes.join(", ")} only (BGP paths and FIB next hops)`,
  );
}

async function startAll(env: ClusterSidecarLab): Promise<void> {
  for (const n of env.nodes) n.start();
  await Promise.all(env.nodes.map((n) => n.waitReady()));
  await env.lab.waitForSession(ROUTE_WAIT);
}

/** One read of the tor for a prefix: its BGP paths and its FIB next hops, read together. */
interface TorView {
  readonly paths: readonly TorPath[];
  readonly fib: readonly TorNextHop[];
}

const pathOf = (v: TorView, node: number): TorPath | undefined => v.paths.find((p) => p.node === node);

/**
 * Runs `trigger`, then reads the tor's view of `prefix` back to back until `done(view)` holds;
 * returns every view seen (the one before the trigger first).
 */
async function watchTor(
  env: ClusterSidecarLab,
  prefix: string,
  trigger: () => void,
  done: (v: TorView) => boolean,
): Promise<TorView[]> {
  const read = async (): Promise<TorView> => {
    const [paths, fib] = await Promise.all([env.lab.torPaths(prefix), env.lab.torFibNextHops(4)]);
    return { paths, fib: fib.get(prefix) ?? [] };
  };
  const seen = [await read()];
  trigger();
  const deadline = Date.now() + TEST_TIMEOUT / 2;
  for (;;) {
    const v = await read();
    seen.push(v);
    if (done(v)) return seen;
    if (Date.now() > deadline)
      assert.fail(`the tor never reached the expected state; last: ${describeView(v)}`);
  }
}

function describeView(v: TorView): string {
  const paths = v.paths.map(
    (p) =>
      `node ${p.node}${p.bestpath ? " best" : ""}${p.multipath ? " multipath" : ""}` +
      (p.communities.length > 0 ? ` [${p.communities.join(" ")}]` : ""),
  );
  return `paths: ${paths.join("; ") || "none"}; FIB via node(s) ${nodesOf(v.fib).join(", ") || "none"}`;
}

/**
 * What a graceful drain of node A must look like at the tor, in this order: both nodes' paths;
 * then node A's path still there but carrying GRACEFUL_SHUTDOWN, neither best nor multipath, node
 * B's path best and the FIB forwarding to node B only; then node A's path gone. Node B's path is in
 * every view.
 */
function assertGracefulMove(seen: readonly TorView[], what: string): void {
  const shown = () => seen.map((v, i) => `${i}: ${describeView(v)}`).join("\n");
  const first = seen[0];
  assert.ok(
    first !== undefined && pathOf(first, A) !== undefined,
    `${what}: node A's path before\n${shown()}`,
  );
  const moved = seen.findIndex((v) => {
    const a = pathOf(v, A);
    const b = pathOf(v, B);
    return (
      a !== undefined &&
      a.communities.includes("gracefulShutdown") &&
      !a.bestpath &&
      !a.multipath &&
      b?.bestpath === true &&
      JSON.stringify(nodesOf(v.fib)) === JSON.stringify([B])
    );
  });
  const gone = seen.findIndex((v) => pathOf(v, A) === undefined);
  assert.ok(
    moved > 0,
    `${what}: never saw the best path (and the FIB) on node B while node A's path stayed\n${shown()}`,
  );
  assert.ok(gone > moved, `${what}: node A's path went before the best path moved\n${shown()}`);
  assert.ok(
    seen.every((v) => pathOf(v, B)?.valid === true),
    `${what}: node B's path missing at some point\n${shown()}`,
  );
}

void describe("two nodes, one tor (ECMP), one cluster", { skip: SKIP }, () => {
  let env: ClusterSidecarLab | undefined;
  const nodeA = (): SidecarLab => env!.nodes[A]!;

  before(
    async () => {
      env = await createClusterSidecarLab({
        objects: objects(),
        config: { safety: { gracefulShutdown: { enabled: true, waitSeconds: WAIT_SECONDS } } },
      });
      try {
        await startAll(env);
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

  /** Diagnostics of node A (its sidecar's log and FRR view) on failure. */
  const diag = (body: () => Promise<void>) => () => withDiagnostics(env?.nodes[A], body);

  void test(
    "ETP=Cluster: the tor has the prefix from both nodes, two next hops in its FIB",
    { timeout: TEST_TIMEOUT },
    diag(async () => {
      const e = env!;
      await waitFromNodes(e, WEB, [A, B]);
      const paths = await e.lab.torPaths(WEB);
      assert.equal(paths.filter((p) => p.bestpath).length, 1, "one best path");
      assert.ok(
        paths.every((p) => p.multipath),
        "both paths multipath",
      );
    }),
  );

  void test(
    "ETP=Local: only the endpoint's node announces; moving the endpoint moves the path",
    { timeout: TEST_TIMEOUT },
    diag(async () => {
      const e = env!;
      // Node B has applied its view of the cluster once its WEB path is at the tor: LOCAL is not in it.
      await waitFromNodes(e, WEB, [A, B]);
      await waitFromNodes(e, LOCAL, [A]);
      const nodeBConf = await e.nodes[B]!.lab.vtysh("node", "show running-config");
      assert.match(nodeBConf, /network 203\.0\.113\.10\/32/);
      assert.doesNotMatch(nodeBConf, /network 203\.0\.113\.20\/32/, "node B must not announce LOCAL");

      e.api.upsert(slice("local", [{ ready: true, nodeName: NODE_B }]));
      await waitFromNodes(e, LOCAL, [B]);
      e.api.upsert(slice("local", [{ ready: true, nodeName: NODE_A }]));
      await waitFromNodes(e, LOCAL, [A]);
    }),
  );

  void test(
    "rolling restart of node A's sidecar: the ETP=Cluster prefix never lacks a path at the tor",
    { timeout: TEST_TIMEOUT },
    diag(async () => {
      const e = env!;
      await waitFromNodes(e, WEB, [A, B]);
      const bgp = new TorSampler(e.lab, [4]);
      const fib = new TorSampler(e.lab, [4], 10, 120_000, "fib");
      try {
        const code = await nodeA().stopSidecar("SIGTERM");
        assert.equal(code, 0, `node A's sidecar exit code\n${nodeA().sidecar?.tail(20)}`);
        // Observed inside the sampled window: node A's path really went, node B's carried the prefix.
        await waitFromNodes(e, WEB, [B]);
        nodeA().start();
        await nodeA().waitReady();
        await waitFromNodes(e, WEB, [A, B]);
      } finally {
        await Promise.all([bgp.stop(), fib.stop()]);
      }
      await bgp.assertNeverMissing([WEB], "node A's rolling restart (tor BGP table)");
      await fib.assertNeverMissing([WEB], "node A's rolling restart (tor FIB)");
    }),
  );

  void test(
    "SIGTERM with graceful shutdown: the tor's best path moves to node B before node A withdraws",
    { timeout: TEST_TIMEOUT },
    diag(async () => {
      const e = env!;
      await waitFromNodes(e, WEB, [A, B]);
      const s = nodeA().sidecar!;
      const exit: { code?: number | null } = {};
      const seen = await watchTor(
        e,
        WEB,
        () => {
          s.signal("SIGTERM");
          void s.waitForExit().then((c) => (exit.code = c));
        },
        (v) => pathOf(v, A) === undefined && exit.code !== undefined,
      );
      assert.equal(exit.code, 0, `node A's sidecar exit code\n${s.tail(20)}`);
      assertGracefulMove(seen, "SIGTERM");
      await waitFromNodes(e, WEB, [B]);
      // Back to both nodes for what follows.
      nodeA().start();
      await nodeA().waitReady();
      await waitFromNodes(e, WEB, [A, B]);
    }),
  );

  void test(
    "node drain (frr-advertiser.io/drain on node A): the best path moves to node B before the withdrawal",
    { timeout: TEST_TIMEOUT },
    diag(async () => {
      const e = env!;
      await waitFromNodes(e, WEB, [A, B]);
      const seen = await watchTor(
        e,
        WEB,
        () =>
          e.api.upsert(
            nodeNamed(
              NODE_A,
              {},
              { metadata: { name: NODE_A, annotations: { "frr-advertiser.io/drain": "true" } } },
            ),
          ),
        (v) => pathOf(v, A) === undefined,
      );
      assertGracefulMove(seen, "node drain");
      assert.ok(nodeA().sidecar?.alive, "node A's sidecar keeps running through a node drain");
      await waitFromNodes(e, WEB, [B]);
      // The drain ends: node A announces again, without the community.
      e.api.upsert(nodeNamed(NODE_A));
      await waitFromNodes(e, WEB, [A, B]);
      await waitUntil(
        async () => (await e.lab.torPaths(WEB)).every((p) => p.communities.length === 0),
        ROUTE_WAIT,
        "node A's path without GRACEFUL_SHUTDOWN again",
      );
    }),
  );
});
