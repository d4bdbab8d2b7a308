// SIGTERM at every stage of the sidecar's life leads to the drain that fits it: while it waits for
// FRR, during the first list, in the middle of a 10k first apply (announcements, then addresses),
// idle, and signalled again during the drain. After each: exit 0, the tor holds none of the node's
// routes, lo holds none of its addresses, frr.conf on disk announces nothing.

import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { hasAll, hasNone } from "../lab/netns-lab.js";
import type { KubeObject } from "../fakes/fake-kube-api.js";
import { createSidecarLab, service, slice, type SidecarLab, type SidecarProcess } from "./harness.js";
import {
  assertDiskEqualsRunning,
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
const small = (): KubeObject[] => [
  service("web", { clusterIPs: [WEB] }),
  slice("web", [{ ready: true }]),
  service("api", { clusterIPs: [API] }),
  slice("api", [{ ready: true }]),
];

/** 10.100.0.0 … : inside the lab's allowed 10.96.0.0/12. */
const bulkIp = (i: number): string => `10.100.${i >> 8}.${i & 255}`;
function bulk(n: number): KubeObject[] {
  const out: KubeObject[] = [];
  for (let i = 0; i < n; i++) {
    const name = `bulk-${i}`;
    out.push(service(name, { clusterIPs: [bulkIp(i)] }), slice(name, [{ ready: true }]));
  }
  return out;
}
const BULK = 10_000;
/** What the sidecar logs when its first full apply needs no frr-reload.py (ADR 0020). */
const VERIFIED_MSG = "FRR runs this config already (as last verified): frr-reload.py not needed";
const BULK_TIMEOUT = 240_000;

/** The node's service addresses on lo (its own /32 loopback addresses of the lab excluded). */
async function serviceAddressesOnLo(env: SidecarLab): Promise<string[]> {
  return (await loAddresses(env)).filter((a) => a.startsWith("10.96.") || a.startsWith("10.100."));
}

/** Everything a drain must leave behind; `shutdownStage` is the stage the sidecar logged. */
async function assertDrained(
  env: SidecarLab,
  code: number | null,
  shutdownStage: string,
  prefixes: readonly string[],
): Promise<void> {
  const s = env.sidecar!;
  assert.equal(code, 0, `exit code (log tail:\n${s.tail(20)})`);
  const shutdown = s.logs.find((l) => l.msg === "shutting down: draining");
  assert.equal(shutdown?.["stage"], shutdownStage, "the stage the signal arrived in");
  assert.ok(s.logs.some((l) => l.msg === "drained; exiting"));
  // The drain waited for the peers' sent counts: the tor has the withdrawals by now (give its
  // own processing a moment, never minutes).
  await env.lab.waitForTorRoutes(hasNone(...prefixes), 3000, { family: 4 });
  assert.deepEqual(await serviceAddressesOnLo(env), [], "service addresses left on lo");
  assert.deepEqual(await ownedAddresses(env), [], "owned addresses left in the state file");
  assert.deepEqual(await networkLinesOnDisk(env), [], "frr.conf on disk still announces services");
}

/** A first run announces `prefixes` and is then SIGKILLed: FRR and lo keep its routes. */
async function leftoversOfAKilledRun(
  objects: KubeObject[],
  prefixes: readonly string[],
): Promise<SidecarLab> {
  const env = await startedSidecarLab({ objects });
  await env.lab.waitForTorRoutes(hasAll(...prefixes), ROUTE_WAIT, { family: 4 });
  assert.equal(await env.stopSidecar("SIGKILL"), null);
  return env;
}

/** A first run that announced `prefixes` on this FRR, then drained: FRR runs the drained file. */
async function aRunDrained(prefixes: readonly string[]): Promise<SidecarLab> {
  const env = await startedSidecarLab({ objects: small() });
  await env.lab.waitForTorRoutes(hasAll(...prefixes), ROUTE_WAIT, { family: 4 });
  await assertDrained(env, await env.stopSidecar("SIGTERM"), "running", prefixes);
  return env;
}

/** The sidecar started again, ready, with `prefixes` at the tor. */
async function startedAgain(env: SidecarLab, prefixes: readonly string[]): Promise<SidecarProcess> {
  const s = env.start();
  await env.waitReady();
  await env.lab.waitForTorRoutes(hasAll(...prefixes), ROUTE_WAIT, { family: 4 });
  return s;
}

void describe("drain at every stage", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  void test(
    "while waiting for FRR: an earlier run's addresses go, frr.conf is drained, a restarted bgpd announces nothing",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const prefixes = [host(WEB), host(API)];
        env = await leftoversOfAKilledRun(small(), prefixes);
        await env.lab.killDaemon("bgpd", "SIGKILL");
        const s = env.start();
        await s.waitForLog((l) => l.msg === "serving /healthz /readyz /metrics", 20_000, "the server");
        const ready = await s.get("/readyz");
        assert.match(ready.body, /FRR not answering/);
        s.signal("SIGTERM");
        await assertDrained(env, await s.waitForExit(), "waiting for FRR", prefixes);
        // FRR starts from the drained file: the session comes up and nothing is announced.
        await env.lab.startDaemon("bgpd");
        await env.lab.waitForSession(ROUTE_WAIT);
        const running = await env.lab.vtysh("node", "show running-config");
        assert.doesNotMatch(running, /^\s*network /m, "bgpd runs service network lines");
        assert.deepEqual(
          [...(await env.lab.torRoutes(4))].filter((p) => prefixes.includes(p)),
          [],
        );
      }),
  );

  void test(
    "during the first list (API not answering): what an earlier run left in FRR is withdrawn",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const prefixes = [host(WEB), host(API)];
        env = await leftoversOfAKilledRun(small(), prefixes);
        env.api.pause();
        try {
          const s = env.start();
          await s.waitForLog((l) => l.msg === "serving /healthz /readyz /metrics", 20_000, "the server");
          // FRR answers, the informers have not listed: the stage under test.
          await waitUntil(
            async () => {
              const { body } = await s.get("/readyz");
              return !body.includes("FRR not answering") && body.includes("cluster watch not synced");
            },
            10_000,
            "FRR answering while the list is pending",
          );
          assert.deepEqual(
            [...(await env.lab.torRoutes(4))].filter((p) => prefixes.includes(p)).sort(),
            prefixes,
          );
          s.signal("SIGTERM");
          await assertDrained(env, await s.waitForExit(), "waiting for the first list", prefixes);
        } finally {
          env.api.resume();
        }
      }),
  );

  for (const when of ["addresses", "announcements"] as const) {
    void test(
      `during a ${BULK} Service first apply (${when === "addresses" ? "the address batch" : "routes arriving at the tor"})`,
      { timeout: BULK_TIMEOUT },
      () =>
        withDiagnostics(env, async () => {
          env = await createSidecarLab({
            objects: bulk(BULK),
            config: { timings: { batchWindowMs: 20, frrPollIntervalMs: 200, shutdownTimeoutSeconds: 60 } },
          });
          const s = env.start();
          if (when === "addresses") {
            // Ownership is recorded before the ip batch runs: the batch is in flight now.
            await waitUntil(
              async () => (await ownedAddresses(env!)).length > 0,
              120_000,
              "the address batch",
            );
          } else {
            await waitUntil(
              async () => (await env!.lab.torRoutes(4)).size > 0,
              180_000,
              "the first routes at the tor",
            );
          }
          s.signal("SIGTERM");
          const all = Array.from({ length: BULK }, (_, i) => host(bulkIp(i)));
          const code = await s.waitForExit();
          // Both come after FRR's first apply (network mode announces first at start, ADR 0010).
          await assertDrained(env, code, "running", all);
        }),
    );
  }

  void test(
    "a restart after the drain, and one after a SIGKILL, take frr.conf as running without frr-reload.py",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const prefixes = [host(WEB), host(API)];
        const verified = (l: { msg?: unknown }) => l.msg === VERIFIED_MSG;
        env = await aRunDrained(prefixes);
        assert.ok(!env.sidecar!.logs.some(verified), "the first run on this FRR has no record yet");
        // FRR runs the drained file, as the record of the first run's reload says.
        let s = await startedAgain(env, prefixes);
        assert.ok(s.logs.some(verified), `no frr-reload.py skipped (log tail:\n${s.tail(20)})`);
        await assertDiskEqualsRunning(env, "after the restart");
        // A crash: FRR keeps announcing; the next start finds the render's statements running.
        assert.equal(await env.stopSidecar("SIGKILL"), null);
        assert.deepEqual(
          [...(await env.lab.torRoutes(4))].filter((p) => prefixes.includes(p)).sort(),
          prefixes,
        );
        s = await startedAgain(env, prefixes);
        assert.ok(s.logs.some(verified), `no frr-reload.py skipped (log tail:\n${s.tail(20)})`);
        await assertDiskEqualsRunning(env, "after the second restart");
        // Someone's change to bgpd between two runs: the next start asks frr-reload.py, which undoes it.
        await assertDrained(env, await env.stopSidecar("SIGTERM"), "running", prefixes);
        await env.lab.vtysh(
          "node",
          "configure terminal",
          `router bgp ${env.lab.nodeAsn}`,
          "bgp bestpath med confed",
        );
        s = await startedAgain(env, prefixes);
        assert.ok(!s.logs.some(verified), "taken as running although bgpd ran another config");
        assert.doesNotMatch(await env.lab.vtysh("node", "show running-config"), /bestpath med confed/);
      }),
  );

  void test(
    "taken as running on bgpd's word: a daemon's drift the record cannot see is undone soon after",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const prefixes = [host(WEB), host(API)];
        env = await aRunDrained(prefixes);
        // zebra only: bgpd lists nothing new, so the next start takes frr.conf as running.
        await env.lab.vtysh("node", "configure terminal", "zebra route-map delay-timer 7");
        assert.match(await env.lab.vtysh("node", "show running-config"), /zebra route-map delay-timer 7/);
        const s = await startedAgain(env, prefixes);
        assert.ok(
          s.logs.some((l) => l.msg === VERIFIED_MSG),
          `not taken as running (log tail:\n${s.tail(20)})`,
        );
        // The comparison of every daemon that follows such a start (30 s later) sees it and re-applies.
        await s.waitForLog(
          (l) => l.msg === "FRR's running config drifted from frr.conf; re-applying",
          45_000,
          "the drift check after the start",
        );
        await waitUntil(
          async () =>
            !/zebra route-map delay-timer 7/.test(await env!.lab.vtysh("node", "show running-config")),
          10_000,
          "zebra's line removed",
        );
        await assertDiskEqualsRunning(env, "after the repair");
      }),
  );

  void test("idle, signalled three times: the drain is not cut short", { timeout: TEST_TIMEOUT }, () =>
    withDiagnostics(env, async () => {
      const prefixes = [host(WEB), host(API)];
      env = await startedSidecarLab({ objects: small() });
      await env.lab.waitForTorRoutes(hasAll(...prefixes), ROUTE_WAIT, { family: 4 });
      const s = env.sidecar!;
      // Back to back: a second SIGTERM may merge with the first in the kernel, a SIGINT cannot.
      s.signal("SIGTERM");
      s.signal("SIGINT");
      setTimeout(() => {
        s.signal("SIGTERM");
      }, 5);
      const code = await s.waitForExit();
      await assertDrained(env, code, "running", prefixes);
      assert.ok(
        s.logs.some((l) => l.msg === "already draining; signal ignored"),
        `a repeated signal was not seen (log tail:\n${s.tail(20)})`,
      );
    }),
  );
});
