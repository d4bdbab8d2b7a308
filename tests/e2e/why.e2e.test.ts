// End to end, "why is my Service (not) advertised?" from a running node: GET /decisions of the
// live sidecar, and `frr-advertiser why` reading it next to what bgpd sends the tor.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hasAll } from "../lab/netns-lab.js";
import { NODE, service, slice, type SidecarLab } from "./harness.js";
import {
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  startedSidecarLab,
  TEST_TIMEOUT,
  withDiagnostics,
} from "./e2e-helpers.js";

const WEB = "10.96.0.10/32";

void describe("why a Service is (not) advertised, from the running node", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;

  before(
    async () => {
      env = await startedSidecarLab({
        objects: [
          service("web", { clusterIPs: ["10.96.0.10"] }),
          slice("web", [{ ready: true }]),
          // ETP=Local with its only endpoint on another node: this node must not announce it.
          service("local", { clusterIPs: ["10.96.0.20"], lbIPs: ["10.96.1.20"], etp: "Local" }),
          slice("local", [{ ready: true, nodeName: "node-b" }]),
        ],
      });
      await env.lab.waitForTorRoutes(hasAll(WEB), ROUTE_WAIT, { family: 4 });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
  });

  /** Where the node's sidecar runs (in image mode: in the node's namespace, next to it). */
  async function why(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const s = env!.sidecar!;
    const r = await env!.cli([
      "why",
      ...args,
      "--config",
      env!.configPath,
      "--url",
      `http://127.0.0.1:${s.port ?? 0}`,
    ]);
    return { status: r.exitCode ?? null, stdout: r.stdout, stderr: r.stderr };
  }

  void test(
    "GET /decisions: every verdict of this node, one Service on request",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const r = await env!.sidecar!.get("/decisions?service=default/web");
        assert.equal(r.status, 200);
        const view = JSON.parse(r.body) as {
          node: string;
          decisions: { verdict: string; prefix?: string }[];
        };
        assert.equal(view.node, NODE);
        assert.deepEqual(
          view.decisions.map((d) => [d.verdict, d.prefix]),
          [["advertise", WEB]],
        );
      }),
  );

  void test(
    "why: an ETP=Local Service without a local endpoint, and one FRR sends",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const local = await why("default/local");
        assert.equal(local.status, 0, local.stderr);
        assert.match(local.stdout, /10\.96\.1\.20 \(loadBalancer\): WITHHOLD \[no-local-ready-endpoints\]/);
        assert.match(local.stdout, /NOT sent to \S+ \(ipv4\)/);
        const web = await why("default/web", "--output", "json");
        assert.equal(web.status, 0, web.stderr);
        const report = JSON.parse(web.stdout) as {
          addresses: { prefix?: string; peers: { sent: boolean }[] }[];
        };
        const [first] = report.addresses;
        assert.equal(first?.prefix, WEB);
        assert.deepEqual(
          first.peers.map((p) => p.sent),
          [true],
          web.stdout,
        );
        const none = await why("default/nope");
        assert.equal(none.status, 1, none.stdout + none.stderr);
        assert.equal((await why("not-a-service")).status, 2);
      }),
  );
});
