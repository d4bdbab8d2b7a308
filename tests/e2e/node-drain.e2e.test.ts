// End to end, a node drain (the drain annotation) with real FRR: the tor first receives this
// node's routes with the GRACEFUL_SHUTDOWN community (RFC 8326), then, after the wait, the
// withdrawal; a drain that ends during the wait leaves the routes, without the community.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hasAll, hasNone } from "../lab/netns-lab.js";
import { node, NODE, service, slice, type SidecarLab } from "./harness.js";
import {
  assertNeverMissingDuring,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  startedSidecarLab,
  TEST_TIMEOUT,
  waitUntil,
  withDiagnostics,
} from "./e2e-helpers.js";

const WAIT_SECONDS = 3;
const WEB = "10.96.0.10/32";

/** The communities on the tor's first path for `prefix` ("" without any, undefined without a route). */
async function torCommunities(env: SidecarLab, prefix: string): Promise<string | undefined> {
  return (await env.lab.torPaths(prefix))[0]?.communities.join(" ");
}

const draining = () =>
  node({}, { metadata: { name: NODE, annotations: { "frr-advertiser.io/drain": "true" } } });

void describe("graceful node drain (RFC 8326) at the tor", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;

  before(
    async () => {
      env = await startedSidecarLab({
        objects: [service("web", { clusterIPs: ["10.96.0.10"] }), slice("web", [{ ready: true }])],
        config: { safety: { gracefulShutdown: { waitSeconds: WAIT_SECONDS } } },
      });
      await env.lab.waitForTorRoutes(hasAll(WEB), ROUTE_WAIT, { family: 4 });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
  });

  void test(
    "drain: GRACEFUL_SHUTDOWN on the route first, the withdrawal after the wait",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = env!;
        assert.equal(await torCommunities(e, WEB), "", "no community before the drain");
        const started = Date.now();
        e.api.upsert(draining());
        await waitUntil(
          async () => (await torCommunities(e, WEB))?.includes("gracefulShutdown") === true,
          ROUTE_WAIT,
          "the tor's route with GRACEFUL_SHUTDOWN",
        );
        await e.lab.waitForTorRoutes(hasNone(WEB), ROUTE_WAIT, { family: 4 });
        const waited = Date.now() - started;
        assert.ok(waited >= WAIT_SECONDS * 1000 - 200, `withdrawn after the wait, not before (${waited} ms)`);
        e.api.upsert(node());
        await e.lab.waitForTorRoutes(hasAll(WEB), ROUTE_WAIT, { family: 4 });
        await waitUntil(
          async () => (await torCommunities(e, WEB)) === "",
          ROUTE_WAIT,
          "announced without the community",
        );
      }),
  );

  void test(
    "a drain that ends during the wait: the route stays, the community goes",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = env!;
        e.api.upsert(draining());
        await waitUntil(
          async () => (await torCommunities(e, WEB))?.includes("gracefulShutdown") === true,
          ROUTE_WAIT,
          "the tor's route with GRACEFUL_SHUTDOWN",
        );
        e.api.upsert(node());
        await waitUntil(
          async () => (await torCommunities(e, WEB)) === "",
          ROUTE_WAIT,
          "the community gone again",
        );
        // Sampled at the tor through the end of the would-be wait: never withdrawn.
        await assertNeverMissingDuring(
          e.lab,
          [4],
          [WEB],
          "the cancelled drain's wait",
          () => new Promise((r) => setTimeout(r, WAIT_SECONDS * 1000)),
        );
        assert.equal(await torCommunities(e, WEB), "", "still announced, without the community");
      }),
  );
});
