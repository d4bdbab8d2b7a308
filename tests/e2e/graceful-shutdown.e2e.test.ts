// Graceful shutdown (RFC 8326) on SIGTERM, read at the tor: the node's routes carry the
// GRACEFUL_SHUTDOWN community before they are withdrawn (network and connected mode), not with
// the option off, and a restarted sidecar announces them without it again.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { afterEach, describe, test } from "node:test";
import { hasAll, hasNone } from "../lab/netns-lab.js";
import { service, slice, type SidecarLab, type SidecarProcess } from "./harness.js";
import {
  assertDiskEqualsRunning,
  metricValue,
  ROUTE_WAIT,
  SKIP,
  startedSidecarLab,
  TEST_TIMEOUT,
  waitForLogFrom,
  withDiagnostics,
} from "./e2e-helpers.js";

const WEB = "10.96.0.10/32";
const API = "10.96.0.11/32";
const objects = () => [
  service("web", { clusterIPs: ["10.96.0.10"] }),
  slice("web", [{ ready: true }]),
  service("api", { clusterIPs: ["10.96.0.11"] }),
  slice("api", [{ ready: true }]),
];
const WAIT_SECONDS = 2;
const ANNOUNCED_MSG =
  "graceful shutdown: routes re-announced with GRACEFUL_SHUTDOWN; waiting before the withdrawal";

/** What the tor has for a prefix: no route, a route, or a route with GRACEFUL_SHUTDOWN. */
type TorState = "gone" | "plain" | "gshut";

async function torState(env: SidecarLab, prefix: string): Promise<TorState> {
  const paths = await env.lab.torPaths(prefix);
  if (paths.length === 0) return "gone";
  return paths.some((p) => p.communities.includes("gracefulShutdown")) ? "gshut" : "plain";
}

/**
 * SIGTERM, while the tor's view of `prefix` is read back to back until the sidecar has exited and
 * the route is gone; returns the distinct states in the order seen (e.g. plain, gshut, gone).
 */
async function sigtermWatchingTor(
  env: SidecarLab,
  prefix: string,
): Promise<{ code: number | null; seen: TorState[]; gauge: number | undefined }> {
  const s = env.sidecar!;
  const seen: TorState[] = [await torState(env, prefix)];
  s.signal("SIGTERM");
  const exit: { code?: number | null } = {};
  void s.waitForExit().then((c) => (exit.code = c));
  const deadline = Date.now() + TEST_TIMEOUT / 2;
  // frr_advertiser_graceful_shutdown, read once while the tor sees the community.
  let gauge: number | undefined;
  for (;;) {
    const state = await torState(env, prefix);
    if (state !== seen[seen.length - 1]) seen.push(state);
    if (state === "gshut" && gauge === undefined)
      gauge = await metricValue(s, "frr_advertiser_graceful_shutdown").catch(() => undefined);
    if (exit.code !== undefined && state === "gone") return { code: exit.code, seen, gauge };
    if (Date.now() > deadline)
      assert.fail(`no exit with the route gone; seen ${seen.join(" → ")}\n${s.tail(20)}`);
  }
}

function drainedLine(s: SidecarProcess) {
  const line = s.logs.find((l) => l.msg === "drained; exiting");
  assert.ok(line, `no "drained; exiting" (log tail:\n${s.tail(20)})`);
  return line["graceful"] as { kind: string; waitedMs?: number; why?: string };
}

void describe("graceful shutdown (RFC 8326) on SIGTERM, at the tor", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  void test(
    "the routes carry GRACEFUL_SHUTDOWN before they go; exit 0; a restart announces without it",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        env = await startedSidecarLab({
          objects: objects(),
          config: { safety: { gracefulShutdown: { enabled: true, waitSeconds: WAIT_SECONDS } } },
        });
        await env.lab.waitForTorRoutes(hasAll(WEB, API), ROUTE_WAIT, { family: 4 });
        const s = env.sidecar!;
        const { code, seen, gauge } = await sigtermWatchingTor(env, WEB);
        assert.equal(code, 0, `exit code (log tail:\n${s.tail(20)})`);
        assert.deepEqual(
          seen,
          ["plain", "gshut", "gone"],
          "the tor's route: plain, with the community, gone",
        );
        assert.equal(gauge, 1, "frr_advertiser_graceful_shutdown while the routes carry the community");
        assert.equal(await torState(env, API), "gone");
        const graceful = drainedLine(s);
        assert.equal(graceful.kind, "announced");
        assert.ok((graceful.waitedMs ?? 0) >= WAIT_SECONDS * 1000 - 50, `waited ${graceful.waitedMs} ms`);
        // The sequence in the log: the community, then the withdrawal.
        const announced = await waitForLogFrom(
          s,
          (l) => l.msg === ANNOUNCED_MSG,
          0,
          1000,
          "the graceful log",
        );
        await waitForLogFrom(
          s,
          (l) => l.msg === "drain step done" && l["step"] === "withdraw",
          announced,
          1000,
          "the withdrawal after it",
        );
        // FRR's next start reads this file: it must not hold the switch. And after the
        // withdrawal the drain switched it off: FRR runs exactly this file.
        const onDisk = await readFile(env.lab.confFile, "utf8");
        assert.doesNotMatch(onDisk, /graceful-shutdown/);
        assert.doesNotMatch(onDisk, /^\s*network /m);
        assert.doesNotMatch(await env.lab.vtysh("node", "show running-config"), /graceful-shutdown/);
        await assertDiskEqualsRunning(env, "after the drain");

        // A drain cut short after the community went out leaves FRR running the switch (FRR kept
        // running): the next sidecar's first, full reload removes it before announcing again.
        await env.lab.vtysh(
          "node",
          "configure terminal",
          `router bgp ${env.lab.nodeAsn}`,
          "bgp graceful-shutdown",
        );
        assert.match(await env.lab.vtysh("node", "show running-config"), /bgp graceful-shutdown/);
        const again = env.start();
        await env.waitReady();
        await env.lab.waitForTorRoutes(hasAll(WEB, API), ROUTE_WAIT, { family: 4 });
        assert.equal(await torState(env, WEB), "plain");
        assert.equal(await torState(env, API), "plain");
        assert.doesNotMatch(await env.lab.vtysh("node", "show running-config"), /graceful-shutdown/);
        assert.ok(again.alive);
      }),
  );

  void test("switched off: the routes go without the community", { timeout: TEST_TIMEOUT }, () =>
    withDiagnostics(env, async () => {
      env = await startedSidecarLab({
        objects: objects(),
        config: { safety: { gracefulShutdown: { enabled: false, waitSeconds: WAIT_SECONDS } } },
      });
      await env.lab.waitForTorRoutes(hasAll(WEB, API), ROUTE_WAIT, { family: 4 });
      const s = env.sidecar!;
      const { code, seen } = await sigtermWatchingTor(env, WEB);
      assert.equal(code, 0, `exit code (log tail:\n${s.tail(20)})`);
      assert.deepEqual(seen, ["plain", "gone"]);
      assert.deepEqual(drainedLine(s), { kind: "skipped", why: "switched off" });
      assert.ok(!s.logs.some((l) => l.msg === ANNOUNCED_MSG));
    }),
  );

  void test(
    "connected mode: GRACEFUL_SHUTDOWN on the route while the address still serves, then the address goes",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        env = await startedSidecarLab({
          objects: objects(),
          mode: "connected",
          config: { safety: { gracefulShutdown: { enabled: true, waitSeconds: WAIT_SECONDS } } },
        });
        await env.lab.waitForTorRoutes(hasAll(WEB, API), ROUTE_WAIT, { family: 4 });
        const s = env.sidecar!;
        const { code, seen } = await sigtermWatchingTor(env, WEB);
        assert.equal(code, 0, `exit code (log tail:\n${s.tail(20)})`);
        assert.deepEqual(seen, ["plain", "gshut", "gone"]);
        assert.equal(drainedLine(s).kind, "announced");
        await env.lab.waitForTorRoutes(hasNone(WEB, API), 3000, { family: 4 });
      }),
  );
});
