// FRR's daemons restarting under the sidecar (ADR 0008): zebra alone (what watchfrr does when
// zebra dies; bgpd keeps running), and every daemon at once (the FRR container restarting). And the
// read-back: a prefix bgpd stops sending behind the sidecar's back is noticed and repaired.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hasAll, type Daemon } from "../lab/netns-lab.js";
import { NODE, service, slice, type SidecarLab } from "./harness.js";
import {
  assertNeverMissingDuring,
  metricValue,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  TEST_TIMEOUT,
  waitForLogFrom,
  waitUntil,
  withDiagnostics,
  startedSidecarLab,
} from "./e2e-helpers.js";

const host = (ip: string): string => `${ip}/32`;
const svc = (name: string, ip: string, ready = true) => [
  service(name, { clusterIPs: [ip] }),
  slice(name, [{ ready }]),
];
/** The bound: a change reaches the tor within 2 s, also right after a zebra restart. */
const ANNOUNCE_WITHIN = 2000;

void describe("FRR daemons restarting", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  const KEPT = host("10.96.0.10");
  const FLAP = host("10.96.0.11");

  before(
    async () => {
      env = await startedSidecarLab({
        objects: [...svc("kept", "10.96.0.10"), ...svc("flap", "10.96.0.11")],
        // A long grace keeps the flapped Service's address on lo: the case that stayed silent.
        config: {
          timings: {
            batchWindowMs: 20,
            frrPollIntervalMs: 200,
            withdrawGraceMs: 10_000,
            announcementCheckSeconds: 1,
            announcementStuckMs: 1000,
          },
        },
      });
      await env.lab.waitForTorRoutes(hasAll(KEPT, FLAP), ROUTE_WAIT, { family: 4 });
    },
    { timeout: SETUP_TIMEOUT },
  );
  after(async () => {
    await env?.stop();
  });

  void test(
    "zebra killed and restarted (bgpd running): routes stay; a new and a flapped Service reach the tor within 2 s",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { lab, api } = env!;
        const s = env!.sidecar!;
        const from = s.logs.length;
        await assertNeverMissingDuring(lab, [4], [KEPT, FLAP], "the zebra restart", async () => {
          await lab.killDaemon("zebra", "SIGKILL");
          await lab.startDaemon("zebra");
          await waitForLogFrom(s, (l) => l.msg === "applied", from, ROUTE_WAIT, "the re-apply after zebra");
        });
        for (const x of svc("fresh", "10.96.0.12")) api.upsert(x);
        await lab.waitForTorRoutes(hasAll(host("10.96.0.12")), ANNOUNCE_WITHIN, { family: 4 });
        // Unready then ready again within the grace: the address never left lo.
        api.upsert(slice("flap", [{ ready: false }]));
        await lab.waitForTorRoutes((r) => !r.has(FLAP), ROUTE_WAIT, { family: 4 });
        api.upsert(slice("flap", [{ ready: true }]));
        await lab.waitForTorRoutes(hasAll(FLAP), ANNOUNCE_WITHIN, { family: 4 });
      }),
  );

  void test(
    "every daemon restarted (the FRR container restarting): everything re-announced",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { lab } = env!;
        const s = env!.sidecar!;
        const all = [KEPT, FLAP, host("10.96.0.12")];
        await lab.waitForTorRoutes(hasAll(...all), ROUTE_WAIT, { family: 4 });
        const from = s.logs.length;
        const daemons: Daemon[] = ["bgpd", "staticd", "zebra"];
        for (const d of daemons) await lab.killDaemon(d, "SIGKILL");
        await lab.waitForTorRoutes((r) => all.every((p) => !r.has(p)), ROUTE_WAIT, { family: 4 });
        for (const d of ["zebra", "staticd", "bgpd"] as const) await lab.startDaemon(d);
        await waitForLogFrom(
          s,
          (l) => l.msg === "FRR answers; applying the full config",
          from,
          ROUTE_WAIT,
          "FRR back",
        );
        await lab.waitForTorRoutes(hasAll(...all), ROUTE_WAIT, { family: 4 });
        const ready = await s.get("/readyz");
        assert.equal(ready.status, 200, ready.body);
      }),
  );

  void test(
    "read-back: a network line removed behind the sidecar's back is re-announced, counted, and an Event on the Node",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { lab, api } = env!;
        const s = env!.sidecar!;
        await lab.waitForTorRoutes(hasAll(KEPT), ROUTE_WAIT, { family: 4 });
        const from = s.logs.length;
        // Someone edits bgpd directly: the prefix is no longer announced, frr.conf still says it is.
        await lab.vtysh(
          "node",
          "configure terminal",
          `router bgp ${lab.nodeAsn}`,
          "address-family ipv4 unicast",
          `no network ${KEPT}`,
        );
        await lab.waitForTorRoutes((r) => !r.has(KEPT), ROUTE_WAIT, { family: 4 });
        await waitForLogFrom(
          s,
          (l) => l.msg === "prefixes wanted but not advertised to every established peer",
          from,
          ROUTE_WAIT,
          "the read-back noticing",
        );
        await lab.waitForTorRoutes(hasAll(KEPT), ROUTE_WAIT, { family: 4 });
        const repairs = await metricValue(
          s,
          'frr_advertiser_announcement_repairs_total{action="reannounce"}',
        );
        assert.ok(repairs !== undefined && repairs >= 1, `repairs metric: ${repairs}`);
        await waitUntil(
          () =>
            api
              .events()
              .some(
                (e) =>
                  (e as unknown as { involvedObject: { kind: string; name: string }; reason: string })
                    .involvedObject.kind === "Node" &&
                  (e as unknown as { involvedObject: { name: string } }).involvedObject.name === NODE,
              ),
          ROUTE_WAIT,
          "an Event on the Node",
        );
        await waitUntil(
          async () => (await metricValue(s, "frr_advertiser_prefixes_not_advertised")) === 0,
          ROUTE_WAIT,
          "the not-advertised gauge back to 0",
        );
      }),
  );
});
