// End to end with advertise.localRoutes: the node keeps service IPs as kernel local routes (table
// local, proto 250) instead of addresses on lo. Read at the tor and in the node's kernel: announced
// with the route in place, withdrawn before it goes, a deleted route repaired, the drain leaves none.

import assert from "node:assert/strict";
import { execa } from "execa";
import { afterEach, describe, test } from "node:test";
import { hasAll, hasNone } from "../lab/netns-lab.js";
import { service, slice, type SidecarLab } from "./harness.js";
import {
  loAddresses,
  networkLinesOnDisk,
  ownedAddresses,
  ROUTE_WAIT,
  SKIP,
  TEST_TIMEOUT,
  waitUntil,
  withDiagnostics,
  startedSidecarLab,
} from "./e2e-helpers.js";

const WEB = "10.96.0.10";
const API = "10.96.0.11";
const host = (ip: string): string => `${ip}/32`;

/** Our local routes in the node's kernel (proto 250), IPv4. */
async function localRoutes(env: SidecarLab): Promise<string[]> {
  const r = await execa("ip", [
    "-n",
    env.lab.nodeNs,
    "-j",
    "-4",
    "route",
    "show",
    "table",
    "local",
    "proto",
    "250",
  ]);
  return (JSON.parse(r.stdout) as { dst: string }[]).map((x) => x.dst).sort();
}

/** What the node's kernel does with a packet to `ip`: "local" when it delivers it itself. */
async function routeType(env: SidecarLab, ip: string): Promise<string> {
  const r = await execa("ip", ["-n", env.lab.nodeNs, "route", "get", ip], { reject: false });
  return r.exitCode === 0 ? (r.stdout.split(" ")[0] ?? "") : `unroutable (${r.stderr.trim()})`;
}

const serviceAddressesOnLo = async (env: SidecarLab): Promise<string[]> =>
  (await loAddresses(env)).filter((a) => a.startsWith("10.96."));

void describe("advertise.localRoutes (service IPs as kernel local routes)", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  void test(
    "announced with the local route in place, withdrawn and then removed, repaired when deleted, none left after the drain",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        env = await startedSidecarLab({
          localRoutes: true,
          objects: [
            service("web", { clusterIPs: [WEB] }),
            slice("web", [{ ready: true }]),
            service("api", { clusterIPs: [API] }),
            slice("api", [{ ready: true }]),
          ],
        });
        const e = env;
        await e.lab.waitForTorRoutes(hasAll(host(WEB), host(API)), ROUTE_WAIT, { family: 4 });
        await waitUntil(async () => (await localRoutes(e)).length === 2, ROUTE_WAIT, "both local routes");
        assert.deepEqual(await localRoutes(e), [WEB, API]);
        assert.equal(await routeType(e, WEB), "local", "the node delivers the service IP itself");
        assert.deepEqual(await serviceAddressesOnLo(e), [], "no service address on lo");
        assert.deepEqual(await ownedAddresses(e, "lo", "local-route"), [WEB, API]);

        // Unready: withdrawn at the tor; the local route goes after the grace period.
        e.api.upsert(slice("api", [{ ready: false }]));
        await e.lab.waitForTorRoutes(hasNone(host(API)), ROUTE_WAIT, { family: 4 });
        await waitUntil(async () => !(await localRoutes(e)).includes(API), ROUTE_WAIT, "api's route gone");
        assert.deepEqual(await localRoutes(e), [WEB]);

        // Someone deletes ours: the kernel's notification brings a repair.
        await execa("ip", ["-n", e.lab.nodeNs, "route", "del", "local", `${WEB}/32`, "table", "local"]);
        await waitUntil(async () => (await localRoutes(e)).includes(WEB), ROUTE_WAIT, "web's route back");
        assert.ok(
          e.sidecar!.logs.some((l) => l.msg === "interface address changed behind our back; repairing"),
          "repaired from the kernel's event",
        );

        // The drain: withdrawn at the tor, then every local route of ours removed.
        assert.equal(await e.stopSidecar("SIGTERM"), 0);
        assert.ok(e.sidecar!.logs.some((l) => l.msg === "drained; exiting"));
        await e.lab.waitForTorRoutes(hasNone(host(WEB)), 3000, { family: 4 });
        assert.deepEqual(await localRoutes(e), [], "local routes left behind");
        assert.notEqual(await routeType(e, WEB), "local");
        assert.deepEqual(await ownedAddresses(e, "lo", "local-route"), []);
        assert.deepEqual(await networkLinesOnDisk(e), []);
      }),
  );
});
