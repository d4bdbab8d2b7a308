// End to end, flap damping per Service with real FRR: every withdrawal reaches the tor at once; a
// Service whose endpoints flapped more often than allowed is re-announced only after it has been
// ready for the backoff, with a Warning Event and the verdict gauge saying so.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hasAll, hasNone } from "../lab/netns-lab.js";
import { service, slice, type SidecarLab } from "./harness.js";
import {
  metricValue,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  startedSidecarLab,
  TEST_TIMEOUT,
  waitUntil,
  withDiagnostics,
} from "./e2e-helpers.js";

const BACKOFF_SECONDS = 3;
const WEB = "10.96.0.10/32";
const OTHER = "10.96.0.11/32";

void describe("flap damping", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;

  before(
    async () => {
      env = await startedSidecarLab({
        objects: [
          service("web", { clusterIPs: ["10.96.0.10"] }),
          slice("web", [{ ready: true }]),
          service("other", { clusterIPs: ["10.96.0.11"] }),
          slice("other", [{ ready: true }]),
        ],
        config: {
          safety: { flapDamping: { maxFlaps: 2, windowSeconds: 60, baseBackoffSeconds: BACKOFF_SECONDS } },
        },
      });
      await env.lab.waitForTorRoutes(hasAll(WEB, OTHER), ROUTE_WAIT, { family: 4 });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
  });

  void test(
    "withdrawn at once every time; the third return waits for the backoff",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = env!;
        const setReady = (ready: boolean) => e.api.upsert(slice("web", [{ ready }]));
        for (let k = 0; k < 2; k++) {
          setReady(false);
          await e.lab.waitForTorRoutes(hasNone(WEB), ROUTE_WAIT, { family: 4 });
          setReady(true);
          await e.lab.waitForTorRoutes(hasAll(WEB), ROUTE_WAIT, { family: 4 });
        }
        setReady(false);
        await e.lab.waitForTorRoutes(hasNone(WEB), ROUTE_WAIT, { family: 4 });
        const readyAt = Date.now();
        setReady(true);
        await waitUntil(
          async () =>
            (await metricValue(e.sidecar!, 'frr_advertiser_service_addresses{reason="flap-damped"}')) === 1,
          ROUTE_WAIT,
          "the verdict gauge to count the damped address",
        );
        assert.ok(!(await e.lab.torRoutes(4)).has(WEB), "not re-announced while damped");
        const dampedEvents = () =>
          e.api.events().filter((ev) => (ev as { reason?: string }).reason === "Damped") as {
            message?: string;
            type?: string;
          }[];
        await waitUntil(() => Promise.resolve(dampedEvents().length > 0), ROUTE_WAIT, "a Damped Event");
        const damped = dampedEvents();
        assert.equal(damped.length, 1, "one Damped Event");
        assert.equal(damped[0]?.type, "Warning");
        assert.match(damped[0].message ?? "", /holds back re-announcing 10\.96\.0\.10/);
        await e.lab.waitForTorRoutes(hasAll(WEB), ROUTE_WAIT, { family: 4 });
        const waited = Date.now() - readyAt;
        assert.ok(
          waited >= BACKOFF_SECONDS * 1000 - 200,
          `re-announced after ${waited} ms, not before the backoff`,
        );
        // The other Service never flapped and was never touched.
        assert.ok((await e.lab.torRoutes(4)).has(OTHER));
      }),
  );
});
