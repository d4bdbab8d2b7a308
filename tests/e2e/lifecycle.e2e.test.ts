// End to end, one lab: a Service's life as the tor sees it — endpoint readiness, deletion (route
// first, address after the grace), a LoadBalancer IP assigned later, externalTrafficPolicy Local —
// and, after those batched deltas, frr.conf on disk still equals what FRR runs, also while
// changes never pause (the file is then written from the statements FRR runs, not rendered).

import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { hasAll, hasNone } from "../lab/netns-lab.js";
import { service, slice, type SidecarLab } from "./harness.js";
import {
  assertDiskEqualsRunning,
  loAddresses,
  networkLinesOnDisk,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  TEST_TIMEOUT,
  waitUntil,
  withDiagnostics,
  startedSidecarLab,
  assertNeverMissingDuring,
  reloadTestDiff,
} from "./e2e-helpers.js";
import { ALWAYS_DELETED, ALWAYS_READDED } from "../../sidecar/src/frr/frr-client.js";

const WEB = "10.96.0.10";
const GONE = "10.96.0.11";
const LB_CLUSTER = "10.96.0.40";
const LB_IP = "203.0.113.40";
const LOCAL_CLUSTER = "10.96.0.50";
const LOCAL_LB = "203.0.113.50";
const host = (ip: string): string => `${ip}/32`;

void describe("lifecycle", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  const lab = () => {
    assert.ok(env, "lab not created");
    return env.lab;
  };

  before(
    async () => {
      env = await startedSidecarLab({
        objects: [
          service("web", { clusterIPs: [WEB] }),
          slice("web", [{ ready: true }]),
          service("gone", { clusterIPs: [GONE] }),
          slice("gone", [{ ready: true }]),
        ],
      });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
  });

  void test(
    "ready endpoint → /32 at the tor; unready → withdrawn; ready again → back",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const api = env!.api;
        await lab().waitForTorRoutes(hasAll(host(WEB), host(GONE)), ROUTE_WAIT, { family: 4 });
        assert.ok((await loAddresses(env!)).includes(host(WEB)), "the service address is on lo");

        api.upsert(slice("web", [{ ready: false }]));
        await lab().waitForTorRoutes(hasNone(host(WEB)), ROUTE_WAIT, { family: 4 });
        // The other service is untouched by this one's withdrawal.
        assert.ok((await lab().torRoutes(4)).has(host(GONE)));

        api.upsert(slice("web", [{ ready: true }]));
        await lab().waitForTorRoutes(hasAll(host(WEB)), ROUTE_WAIT, { family: 4 });
      }),
  );

  void test(
    "service deleted → withdrawn at the tor, then its address leaves lo (after the grace)",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const api = env!.api;
        await lab().waitForTorRoutes(hasAll(host(GONE)), ROUTE_WAIT, { family: 4 });
        assert.ok((await loAddresses(env!)).includes(host(GONE)));

        api.remove("Service", "default", "gone");
        api.remove("EndpointSlice", "default", "gone-1");
        // Poll both views together: the route must leave the tor no later than the address leaves lo.
        let torGoneAt: number | undefined;
        let loGoneAt: number | undefined;
        let round = 0;
        await waitUntil(
          async () => {
            round++;
            const [routes, lo] = await Promise.all([lab().torRoutes(4), loAddresses(env!)]);
            if (torGoneAt === undefined && !routes.has(host(GONE))) torGoneAt = round;
            if (loGoneAt === undefined && !lo.includes(host(GONE))) loGoneAt = round;
            return torGoneAt !== undefined && loGoneAt !== undefined;
          },
          ROUTE_WAIT,
          `${GONE} withdrawn at the tor and removed from lo`,
          10,
        );
        assert.ok(
          torGoneAt! <= loGoneAt!,
          `the address left lo (poll ${loGoneAt}) before the tor lost the route (poll ${torGoneAt})`,
        );
        // The other service's route and address stay.
        assert.ok((await lab().torRoutes(4)).has(host(WEB)));
        assert.ok((await loAddresses(env!)).includes(host(WEB)));
      }),
  );

  void test("LoadBalancer IP assigned later (status update) → advertised", { timeout: TEST_TIMEOUT }, () =>
    withDiagnostics(env, async () => {
      const api = env!.api;
      api.upsert(service("lb", { clusterIPs: [LB_CLUSTER], lbIPs: [] }));
      api.upsert(slice("lb", [{ ready: true }]));
      await lab().waitForTorRoutes(hasAll(host(LB_CLUSTER)), ROUTE_WAIT, { family: 4 });
      assert.ok(!(await lab().torRoutes(4)).has(host(LB_IP)), "no LB IP before the status says so");

      api.upsert(service("lb", { clusterIPs: [LB_CLUSTER], lbIPs: [LB_IP] }));
      await lab().waitForTorRoutes(hasAll(host(LB_CLUSTER), host(LB_IP)), ROUTE_WAIT, { family: 4 });
      assert.ok((await loAddresses(env!)).includes(host(LB_IP)), "the LB IP is on lo");
    }),
  );

  void test(
    "ETP=Local: LB IP only while a ready endpoint is on this node; clusterIP stays advertised",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const api = env!.api;
        const svc = service("local", { clusterIPs: [LOCAL_CLUSTER], lbIPs: [LOCAL_LB], etp: "Local" });
        api.upsert(svc);
        api.upsert(slice("local", [{ ready: true, nodeName: "node-b" }]));
        // The clusterIP and the LB IP are decided in the same pass: once the clusterIP is there, the
        // LB IP's absence is the decision, not a delay.
        await lab().waitForTorRoutes(hasAll(host(LOCAL_CLUSTER)), ROUTE_WAIT, { family: 4 });
        assert.ok(
          !(await lab().torRoutes(4)).has(host(LOCAL_LB)),
          "LB IP advertised without a local endpoint",
        );
        assert.ok(!(await loAddresses(env!)).includes(host(LOCAL_LB)));

        await assertNeverMissingDuring(
          lab(),
          [4],
          [host(LOCAL_CLUSTER), host(WEB)],
          "the LB IP's comings and goings",
          async () => {
            api.upsert(
              slice("local", [
                { ready: true, nodeName: "node-b" },
                { ready: true, nodeName: "node-a" },
              ]),
            );
            await lab().waitForTorRoutes(hasAll(host(LOCAL_LB)), ROUTE_WAIT, { family: 4 });

            api.upsert(
              slice("local", [
                { ready: true, nodeName: "node-b" },
                { ready: false, nodeName: "node-a" },
              ]),
            );
            await lab().waitForTorRoutes(hasNone(host(LOCAL_LB)), ROUTE_WAIT, { family: 4 });

            api.upsert(slice("local", [{ ready: true, nodeName: "node-a" }]));
            await lab().waitForTorRoutes(hasAll(host(LOCAL_LB)), ROUTE_WAIT, { family: 4 });
          },
        );
      }),
  );

  void test(
    "after delta changes, frr.conf on disk equals what FRR runs (frr-reload.py --test)",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const api = env!.api;
        const s = env!.sidecar!;
        const deltasBefore = s.logs.filter((l) => l.msg === "applied" && l["frr"] === "delta").length;
        // A few more pure prefix changes, each its own batch.
        api.upsert(service("d1", { clusterIPs: ["10.96.0.61"] }));
        api.upsert(slice("d1", [{ ready: true }]));
        await lab().waitForTorRoutes(hasAll("10.96.0.61/32"), ROUTE_WAIT, { family: 4 });
        api.upsert(service("d2", { clusterIPs: ["10.96.0.62"] }));
        api.upsert(slice("d2", [{ ready: true }]));
        await lab().waitForTorRoutes(hasAll("10.96.0.62/32"), ROUTE_WAIT, { family: 4 });
        api.upsert(slice("d1", [{ ready: false }]));
        await lab().waitForTorRoutes(hasNone("10.96.0.61/32"), ROUTE_WAIT, { family: 4 });
        api.remove("Service", "default", "web");
        await lab().waitForTorRoutes(hasNone(host(WEB)), ROUTE_WAIT, { family: 4 });

        const deltas =
          s.logs.filter((l) => l.msg === "applied" && l["frr"] === "delta").length - deltasBefore;
        assert.ok(deltas >= 1, `expected the changes to go as deltas, saw ${deltas} delta applies`);
        const reloads = s.logs.filter((l) => l.msg === "applied" && l["frr"] === "reloaded").length;

        await assertDiskEqualsRunning(env!, "after deltas");
        const onDisk = await networkLinesOnDisk(env!);
        assert.deepEqual(onDisk.sort(), [
          "network 10.96.0.40/32",
          "network 10.96.0.50/32",
          "network 10.96.0.62/32",
          "network 203.0.113.40/32",
          "network 203.0.113.50/32",
        ]);
        // No full reload snuck in to hide a drift.
        assert.equal(s.logs.filter((l) => l.msg === "applied" && l["frr"] === "reloaded").length, reloads);
      }),
  );

  void test(
    "under churn frr.conf follows FRR within the settle deadline, and what is written is what FRR runs",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = env!;
        const churnIp = (i: number) => `10.96.1.${String(10 + i)}`;
        // A new Service every 300 ms for 8 s: never a second of quiet, so the settle pass comes by
        // its 5 s deadline and writes the statements FRR runs, without a render.
        const written: string[] = [];
        let last = await readFile(e.lab.confFile, "utf8");
        const started = Date.now();
        let n = 0;
        for (; Date.now() - started < 8000; n++) {
          e.api.upsert(service(`churn${String(n)}`, { clusterIPs: [churnIp(n)] }));
          e.api.upsert(slice(`churn${String(n)}`, [{ ready: true }]));
          await sleep(300);
          const now = await readFile(e.lab.confFile, "utf8");
          if (now !== last) written.push(now);
          last = now;
        }
        const churned = [...Array(n).keys()].map((i) => host(churnIp(i)));
        assert.ok(written.length >= 1, "frr.conf was written while the changes went on");
        // Each file written then, read by FRR's own tool against what FRR runs afterwards: the
        // same config but for the Services that came after it was written.
        await lab().waitForTorRoutes(hasAll(...churned), ROUTE_WAIT, { family: 4 });
        for (const [i, text] of written.entries()) {
          const copy = join(e.lab.confDir, `written-under-churn-${String(i)}.conf`);
          await writeFile(copy, text);
          const diff = await reloadTestDiff(e, copy);
          const unexplained = [
            ...diff.toDelete.filter((l) => !ALWAYS_DELETED.test(l)),
            ...diff.toAdd.filter((l) => !ALWAYS_READDED.test(l)),
          ]
            // The diff names each line's context (router, address-family, and on FRR 10 their
            // exits) as lines of its own.
            .filter((l) => !/^(router bgp |address-family |exit$|exit-address-family$)/.test(l.trim()))
            .filter((l) => !churned.some((p) => l.includes(`network ${p}`)));
          assert.deepEqual(unexplained, [], `file ${String(i)} written under churn:\n${text}`);
          assert.ok(
            churned.some((p) => text.includes(`network ${p}`)),
            `file ${String(i)} holds some of the changes`,
          );
        }
        // (They stay: deleted at once they would be most of what the node announces, which the
        // withdrawal breaker holds.)
        await assertDiskEqualsRunning(e, "after the churn");
      }),
  );
});
