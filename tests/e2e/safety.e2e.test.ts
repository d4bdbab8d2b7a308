// End to end, one lab: what must never happen to the node and the fabric.
// - Addresses someone else put on lo survive everything (service churn, SIGKILL + restart,
//   SIGTERM drain), also when one of them equals a service IP (present before the sidecar started).
// - SIGKILL + restart: healthy routes are never withdrawn at the tor; no orphan, no duplicate
//   addresses; a service deleted while the sidecar was dead is withdrawn and its address removed.
// - SIGTERM: the tor loses every route before the process exits; exit code 0; none of our
//   addresses left on lo; no `network` lines for services in frr.conf.

import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, before, describe, test } from "node:test";
import { execa } from "execa";
import { hasAll, hasNone } from "../lab/netns-lab.js";
import { service, slice, type SidecarLab } from "./harness.js";
import {
  addForeignAddress,
  assertDiskEqualsRunning,
  loAddresses,
  loAddrJson,
  metricValue,
  networkLinesOnDisk,
  ownedAddresses,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  TEST_TIMEOUT,
  TorSampler,
  waitForLogFrom,
  waitUntil,
  withDiagnostics,
  startedSidecarLab,
  assertNeverMissingDuring,
} from "./e2e-helpers.js";

/** Not a service IP, inside the allowed CIDRs: someone else's. */
const FOREIGN = "10.96.7.7/32";
/** Equal to service IPs, on lo before the sidecar started: also someone else's. */
const PRE_GONE = "10.96.0.77";
const PRE_KEPT = "10.96.0.78";
const BASE = ["127.0.0.1/8", "::1/128"];
const host = (ip: string): string => `${ip}/32`;
const FOREIGN_ALL = [FOREIGN, host(PRE_GONE), host(PRE_KEPT)];

function svc(name: string, ip: string, ready = true) {
  return [service(name, { clusterIPs: [ip] }), slice(name, [{ ready }])];
}

async function assertForeignPresent(env: SidecarLab, when: string): Promise<void> {
  const lo = await loAddresses(env);
  for (const a of FOREIGN_ALL)
    assert.ok(lo.includes(a), `${when}: ${a} (not ours) is gone from lo: ${lo.join(" ")}`);
  const owned = await ownedAddresses(env);
  for (const a of FOREIGN_ALL)
    assert.ok(!owned.includes(a.replace(/\/\d+$/, "")), `${when}: ${a} recorded as ours`);
}

/**
 * Makes the sidecar repair lo from a fresh listing — an address of ours deleted behind its back
 * (the kernel monitor reports it) — and waits for that pass to end: the address back, then a
 * reconcile that ended once the add was logged. Orphans or duplicates the restarted sidecar had
 * left, or would create from a listing, are then on lo for the caller to see.
 */
async function assertRelistChangesNothing(env: SidecarLab): Promise<void> {
  const s = env.sidecar!;
  const from = s.logs.length;
  const ours = host("10.96.0.10");
  await execa("ip", ["-n", env.lab.nodeNs, "addr", "del", ours, "dev", "lo"]);
  await waitForLogFrom(
    s,
    (l) => l.msg === "interface address changed behind our back; repairing",
    from,
    ROUTE_WAIT,
    "the monitor's drift report",
  );
  const added = await waitForLogFrom(
    s,
    (l) => l.msg === "interface addresses changed" && l["phase"] === "add",
    from,
    ROUTE_WAIT,
    "the repair's add step",
  );
  const line = s.logs[added];
  assert.ok(line);
  assert.equal(line["added"], 1, "the repair added exactly the deleted address");
  const addedAt = Date.parse(String(line["time"]));
  // Passes never overlap: one that ended at or after the add was logged (ms; a pass before it
  // ended before the repair's listing of lo began) is the repair pass or a later one.
  await waitUntil(
    async () =>
      Math.round(((await metricValue(s, "frr_advertiser_last_success_timestamp_seconds")) ?? 0) * 1000) >=
      addedAt,
    ROUTE_WAIT,
    "the repair pass's end",
  );
  assert.ok((await loAddresses(env)).includes(ours), `${ours} back on lo`);
  // From the repair's add on (the restart's own removal may be logged just after `from`).
  const changes = s.logs.slice(added).filter((l) => l.msg === "interface addresses changed");
  assert.deepEqual(
    changes.map((l) => [l["phase"], l["added"], l["removed"]]),
    [["add", 1, 0]],
    "the fresh listing changed nothing but the deleted address",
  );
}

void describe("safety", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;

  before(
    async () => {
      env = await startedSidecarLab(
        {
          objects: [
            ...svc("a", "10.96.0.10"),
            ...svc("b", "10.96.0.11"),
            ...svc("pre-gone", PRE_GONE),
            ...svc("pre-kept", PRE_KEPT),
          ],
        },
        // Before the sidecar starts: someone else's addresses, two of them equal to service IPs.
        async (lab) => {
          for (const a of FOREIGN_ALL) await addForeignAddress(lab, a);
        },
      );
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
  });

  void test(
    "foreign addresses survive service churn; a pre-existing address equal to a service IP outlives its service",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { lab, api } = env!;
        // Services whose address was already there are advertised all the same.
        await lab.waitForTorRoutes(
          hasAll(host("10.96.0.10"), host("10.96.0.11"), host(PRE_GONE), host(PRE_KEPT)),
          ROUTE_WAIT,
          { family: 4 },
        );
        assert.ok(!(await lab.torRoutes(4)).has(FOREIGN), "a foreign address is not a service");

        // Churn: deletions, a new service, readiness flips. pre-gone's Service goes before b's,
        // on the same watch: the sidecar withdraws pre-gone no later than b.
        api.remove("Service", "default", "pre-gone");
        for (const o of svc("c", "10.96.0.12")) api.upsert(o);
        api.remove("Service", "default", "b");
        api.upsert(slice("a", [{ ready: false }]));
        await lab.waitForTorRoutes(
          (r) =>
            r.has(host("10.96.0.12")) &&
            !r.has(host("10.96.0.11")) &&
            !r.has(host("10.96.0.10")) &&
            !r.has(host(PRE_GONE)),
          ROUTE_WAIT,
          { family: 4 },
        );
        api.upsert(slice("a", [{ ready: true }]));
        await lab.waitForTorRoutes(hasAll(host("10.96.0.10")), ROUTE_WAIT, { family: 4 });
        // Our own withdrawn address goes after the grace; someone else's never does. pre-gone's
        // grace began no later than b's, so the removal step that took b's address was also past
        // pre-gone's grace: had the sidecar taken the address for its own, it would be gone now.
        await waitUntil(
          async () => !(await loAddresses(env!)).includes(host("10.96.0.11")),
          ROUTE_WAIT,
          "b's address removed from lo",
        );
        await assertForeignPresent(env!, "after churn");
        assert.deepEqual(await ownedAddresses(env!), ["10.96.0.10", "10.96.0.12"]);
      }),
  );

  void test(
    "SIGKILL + restart: healthy routes never withdrawn; no orphan or duplicate addresses on lo",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { lab, api } = env!;
        const healthy = [host("10.96.0.10"), host("10.96.0.12"), host(PRE_KEPT)];
        await lab.waitForTorRoutes(hasAll(...healthy), ROUTE_WAIT, { family: 4 });
        for (const o of svc("doomed", "10.96.0.13")) api.upsert(o);
        await lab.waitForTorRoutes(hasAll(host("10.96.0.13")), ROUTE_WAIT, { family: 4 });
        const before = await loAddrJson(env!);

        await assertNeverMissingDuring(lab, [4], healthy, "the sidecar's crash and restart", async () => {
          assert.equal(await env!.stopSidecar("SIGKILL"), null, "killed by the signal");
          // Nothing withdraws on a crash: the routes stay while the sidecar is gone.
          assert.deepEqual(await loAddrJson(env!), before);
          // Deleted while nobody watches: the restarted sidecar must withdraw it and remove its address.
          api.remove("Service", "default", "doomed");
          env!.start();
          await env!.waitReady();
          await lab.waitForTorRoutes(hasNone(host("10.96.0.13")), ROUTE_WAIT, { family: 4 });
          await waitUntil(
            async () => !(await loAddresses(env!)).includes(host("10.96.0.13")),
            ROUTE_WAIT,
            "doomed's address removed after the restart",
          );
          await assertRelistChangesNothing(env!);
        });
        const afterRestart = await loAddrJson(env!);
        assert.deepEqual(
          afterRestart,
          before.filter((a) => !a.includes("10.96.0.13/")),
          "lo differs after the restart (orphans or duplicates)",
        );
        assert.equal(new Set(afterRestart).size, afterRestart.length, "duplicate addresses on lo");
        assert.deepEqual(await ownedAddresses(env!), ["10.96.0.10", "10.96.0.12"]);
        await assertForeignPresent(env!, "after SIGKILL + restart");
        await assertDiskEqualsRunning(env!, "after the restart");
      }),
  );

  void test(
    "SIGTERM: the tor loses the routes before the process exits; exit 0; lo and frr.conf clean",
    { timeout: TEST_TIMEOUT },
    (t) =>
      withDiagnostics(env, async () => {
        const { lab } = env!;
        const s = env!.sidecar!;
        const ours = [host("10.96.0.10"), host("10.96.0.12"), host(PRE_KEPT)];
        await lab.waitForTorRoutes(hasAll(...ours), ROUTE_WAIT, { family: 4 });

        let exitAt: number | undefined;
        s.child.once("exit", () => {
          exitAt = performance.now();
        });
        // Read as fast as the tor answers (≈ 0.1 ms per read) to place "empty" precisely.
        const sampler = new TorSampler(lab, [4, 6], 0);
        let code: number | null;
        try {
          code = await env!.stopSidecar("SIGTERM");
          // Samples after the exit too, so "from then on the table stayed empty" covers it.
          const exited = exitAt ?? Infinity;
          await waitUntil(
            () => sampler.samples.filter((x) => x.start > exited).length >= 10,
            ROUTE_WAIT,
            "ten tor samples after the exit",
            10,
          );
        } finally {
          await sampler.stop();
        }
        assert.equal(code, 0, `exit code (log tail:\n${s.tail(20)})`);
        assert.ok(exitAt !== undefined);
        // The first sample with none of our routes, from which on the table stayed empty.
        let lastWithRoutes = -1;
        sampler.samples.forEach((x, i) => {
          if (ours.some((p) => x.routes.has(p))) lastWithRoutes = i;
        });
        const firstEmpty = sampler.samples[lastWithRoutes + 1];
        assert.ok(firstEmpty !== undefined, "the tor never lost the routes");
        assert.ok(lastWithRoutes >= 0, "no sample saw the routes before SIGTERM");
        assert.ok(
          firstEmpty.end <= exitAt,
          `the tor still had routes when the process exited (empty seen ${(firstEmpty.end - exitAt).toFixed(1)} ms after the exit event; ${sampler.samples.length} samples)`,
        );

        t.diagnostic(
          `tor empty ${(exitAt - firstEmpty.end).toFixed(1)} ms before the exit event (${sampler.samples.length} samples)`,
        );

        const lo = await loAddresses(env!);
        assert.deepEqual(
          lo,
          [...BASE, ...FOREIGN_ALL].sort(),
          "only the addresses that are not ours remain on lo",
        );
        assert.deepEqual(await ownedAddresses(env!), []);
        assert.deepEqual(await networkLinesOnDisk(env!), [], "frr.conf still has service network lines");
        await assertDiskEqualsRunning(env!, "after the drain");
      }),
  );
});
