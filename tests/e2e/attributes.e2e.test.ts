// End to end, per-Service BGP attributes read at the tor: communities, large communities, MED and
// AS-path prepend arrive on the route; a Service with an attribute set FRR does not run yet goes
// to bgpd as a delta (its route-map first, no frr-reload.py); a set no prefix uses any more is
// removed from FRR right after the prefix left it (the same fast pass, no frr-reload.py), and
// frr.conf on disk equals what FRR runs.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hasAll, type TorPath } from "../lab/netns-lab.js";
import { service, slice, type SidecarLab } from "./harness.js";
import {
  assertDiskEqualsRunning,
  metricValue,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  startedSidecarLab,
  TEST_TIMEOUT,
  waitUntil,
  withDiagnostics,
} from "./e2e-helpers.js";

const PLAIN = "10.96.0.10/32";
const TAGGED = "10.96.0.20/32";

const ATTRIBUTES = {
  "frr-advertiser.io/communities": "65000:7 65000:8",
  "frr-advertiser.io/large-communities": "65000:1:2",
  "frr-advertiser.io/med": "50",
  "frr-advertiser.io/as-path-prepend": "64999 64999",
};

function svc(name: string, ip: string, annotations: Record<string, string> = {}) {
  return [service(name, { clusterIPs: [ip], annotations }), slice(name, [{ ready: true }])];
}

/** The tor's first path for `prefix` (undefined: no route). */
async function torPath(env: SidecarLab, prefix: string): Promise<TorPath | undefined> {
  return (await env.lab.torPaths(prefix))[0];
}

void describe("per-Service BGP attributes at the tor", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;

  before(
    async () => {
      env = await startedSidecarLab({ objects: svc("plain", "10.96.0.10") });
      await env.lab.waitForTorRoutes(hasAll(PLAIN), ROUTE_WAIT, { family: 4 });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
  });

  void test(
    "a new attribute set is a delta: route-map, then the statement; the tor sees every attribute",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = env!;
        const s = e.sidecar!;
        const reloads =
          (await metricValue(s, 'frr_advertiser_frr_applies_total{method="reload",result="ok"}')) ?? 0;
        for (const o of svc("tagged", "10.96.0.20", ATTRIBUTES)) e.api.upsert(o);
        await e.lab.waitForTorRoutes(hasAll(PLAIN, TAGGED), ROUTE_WAIT, { family: 4 });
        const path = await torPath(e, TAGGED);
        assert.ok(path, "the tor has a path");
        assert.deepEqual([...path.communities].sort(), ["65000:7", "65000:8"]);
        assert.deepEqual(path.largeCommunities, ["65000:1:2"]);
        assert.equal(path.med, 50);
        assert.deepEqual(
          path.asPath.slice(0, 3),
          [String(e.lab.nodeAsn), "64999", "64999"],
          path.asPath.join(" "),
        );
        // The plain Service's route carries none of it.
        const plain = await torPath(e, PLAIN);
        assert.deepEqual(plain?.communities, []);
        assert.equal(plain.med, 0);
        const reloadsAfter =
          (await metricValue(s, 'frr_advertiser_frr_applies_total{method="reload",result="ok"}')) ?? 0;
        assert.equal(reloadsAfter, reloads, "no frr-reload.py for a new attribute set");
        await assertDiskEqualsRunning(e, "after the new set settled");
      }),
  );

  void test(
    "the attributes go: the route is re-announced without them, and FRR no longer runs the set's route-map",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = env!;
        const running = async () => e.lab.vtysh("node", "show running-config");
        const before = await running();
        const setName = /route-map (FRRADV-A-[0-9a-f]+) permit 10/.exec(before)?.[1];
        assert.ok(setName, `FRR runs the set's route-map:\n${before}`);
        const reloads =
          (await metricValue(e.sidecar!, 'frr_advertiser_frr_applies_total{method="reload",result="ok"}')) ??
          0;
        for (const o of svc("tagged", "10.96.0.20")) e.api.upsert(o);
        await waitUntil(
          async () => (await torPath(e, TAGGED))?.communities.length === 0,
          ROUTE_WAIT,
          "the tor's route without communities",
        );
        const path = await torPath(e, TAGGED);
        assert.equal(path?.med, 0);
        assert.deepEqual(path.largeCommunities, []);
        // Removed by the pass that moved the statement out of it, after the statement.
        await waitUntil(async () => !(await running()).includes(setName), ROUTE_WAIT, `${setName} removed`);
        await assertDiskEqualsRunning(e, "after the set went");
        const reloadsAfter =
          (await metricValue(e.sidecar!, 'frr_advertiser_frr_applies_total{method="reload",result="ok"}')) ??
          0;
        assert.equal(reloadsAfter, reloads, "no frr-reload.py for a set that went");
      }),
  );
});
