// End to end, one lab: faults around the sidecar. bgpd killed and restarted (routes come back, the
// sidecar notices and re-applies the full config, including a change made while bgpd was down);
// the API server restarted and a watch failing with HTTP 500 (nothing is withdrawn meanwhile —
// the tor's table is sampled throughout — and a change made after recovery is applied).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { hasAll, hasNone } from "../lab/netns-lab.js";
import type { FakeKubeApi, StoredObject } from "../fakes/fake-kube-api.js";
import { service, slice, type SidecarLab, type SidecarProcess } from "./harness.js";
import {
  assertDiskEqualsRunning,
  findLog,
  networkLinesOnDisk,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  TEST_TIMEOUT,
  waitForLogFrom,
  waitUntil,
  withDiagnostics,
  startedSidecarLab,
  assertNeverMissingDuring,
  loAddresses,
  readsAtLeast,
} from "./e2e-helpers.js";

const A = "10.96.0.10/32";
const B = "10.96.0.11/32";
const SLICES = "/apis/discovery.k8s.io/v1/endpointslices";
const WATCHED = ["/api/v1/services", SLICES, "/api/v1/nodes"];

function svc(name: string, ip: string) {
  return [service(name, { clusterIPs: [ip] }), slice(name, [{ ready: true }])];
}

/** Reads something in a loop until stop(), keeping every value (at most 60 s). */
class ReadSampler<T> {
  readonly samples: T[] = [];
  readonly errors: string[] = [];
  /** Reads made while the window was open (the one stop() adds is not among them). */
  windowReads = 0;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly read: () => Promise<T>) {
    const deadline = Date.now() + 60_000;
    this.loop = (async () => {
      while (!this.stopped && Date.now() < deadline) {
        try {
          this.samples.push(await read());
        } catch (e) {
          this.errors.push(String(e));
        }
        await sleep(10);
      }
    })();
  }

  /**
   * Ends the loop once it has read `minReads` times (at most 5 s more: a window shorter than two
   * reads — the sidecar got there in a few milliseconds — is sampled a little past its end, which
   * still holds what it asserts), then reads once more: the window's end is always sampled.
   */
  async stop(minReads = 2): Promise<void> {
    await readsAtLeast(() => this.samples.length + this.errors.length, minReads);
    this.stopped = true;
    await this.loop;
    this.windowReads = this.samples.length;
    try {
      this.samples.push(await this.read());
    } catch (e) {
      this.errors.push(String(e));
    }
  }
}

/**
 * Waits until the sidecar provably holds these objects: its watches, closed now, resume from
 * their resourceVersion or a later one (it logs where it re-watches from). The reflector takes an
 * event's resourceVersion as it hands the object to the store and schedules a pass.
 */
async function sidecarHolds(
  api: FakeKubeApi,
  s: SidecarProcess,
  objects: readonly StoredObject[],
): Promise<void> {
  const from = s.logs.length;
  api.closeWatches();
  for (const o of objects) {
    const resource = o.kind === "Service" ? "services" : "endpointslices";
    const rv = Number(o.metadata.resourceVersion);
    await waitForLogFrom(
      s,
      (l) => l.msg === "re-watching" && l["resource"] === resource && Number(l["resourceVersion"]) >= rv,
      from,
      ROUTE_WAIT,
      `the ${resource} watch resuming from resourceVersion ${rv} or later`,
    );
  }
}

void describe("faults", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  /** An API restart in flight: after() must not stop the server while restart() re-listens. */
  let restarting: Promise<void> | undefined;

  before(
    async () => {
      env = await startedSidecarLab({ objects: [...svc("a", "10.96.0.10"), ...svc("b", "10.96.0.11")] });
      await env.lab.waitForTorRoutes(hasAll(A, B), ROUTE_WAIT, { family: 4 });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await restarting?.catch(() => undefined);
    await env?.stop();
  });

  void test(
    "bgpd SIGKILLed and restarted → routes back at the tor, full re-apply logged",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { lab, api } = env!;
        const s = env!.sidecar!;
        const from = s.logs.length;
        await lab.killDaemon("bgpd", "SIGKILL");
        let down: number;
        try {
          await lab.waitForTorRoutes(hasNone(A, B), ROUTE_WAIT, { family: 4 });
          // The sidecar notices (its socket file stays behind on SIGKILL) and says so.
          down = await waitForLogFrom(
            s,
            (l) => l.msg === "FRR restarted or stopped",
            from,
            ROUTE_WAIT,
            "bgpd's death noticed",
          );
          const notReady = await s.get("/readyz");
          assert.equal(notReady.status, 503, notReady.body);
          assert.match(notReady.body, /FRR not answering/);
          // A change while bgpd is down is held back (`vtysh -f` would skip the dead daemon silently):
          // frr.conf keeps what FRR last ran, bgpd restarts from it, and the change reaches bgpd only
          // through the sidecar's full re-apply once bgpd answers again. frr.conf is read throughout,
          // from the change until the sidecar provably holds it; bgpd is started only after that.
          const disk = new ReadSampler(() => networkLinesOnDisk(env!));
          try {
            const stored = svc("c", "10.96.0.12").map((o) => api.upsert(o));
            await sidecarHolds(api, s, stored);
          } finally {
            await disk.stop();
          }
          assert.deepEqual(disk.errors, [], "reading frr.conf failed");
          assert.ok(
            disk.windowReads >= 2,
            `too few reads of frr.conf while bgpd was down (${disk.windowReads})`,
          );
          assert.ok(
            disk.samples.every((lines) => !lines.includes("network 10.96.0.12/32")),
            "a change was written to frr.conf while bgpd was down",
          );
          assert.equal(
            findLog(s, (l) => l.msg === "applied", down),
            -1,
            "an apply was reported while bgpd was down",
          );
        } catch (err) {
          // bgpd must not stay down for the suite's next tests when an assertion fails here.
          await lab.startDaemon("bgpd").catch(() => undefined);
          throw err;
        }
        await lab.startDaemon("bgpd");
        await lab.waitForSession(ROUTE_WAIT);
        await lab.waitForTorRoutes(hasAll(A, B, "10.96.0.12/32"), ROUTE_WAIT, { family: 4 });

        const up = await waitForLogFrom(
          s,
          (l) => l.msg === "FRR answers; applying the full config",
          down,
          ROUTE_WAIT,
          "FRR back",
        );
        // The re-apply after a restart goes in two steps (frr-reload.py of what FRR runs, then the
        // rest as a delta); the report names the last one.
        await waitForLogFrom(
          s,
          (l) => l.msg === "applied",
          up,
          ROUTE_WAIT,
          "the full re-apply after FRR came back",
        );
        await waitUntil(async () => (await s.get("/readyz")).status === 200, ROUTE_WAIT, "/readyz 200 again");
        await assertDiskEqualsRunning(env!, "after bgpd's restart");
      }),
  );

  void test(
    "API server restarted → nothing withdrawn meanwhile; a change after recovery is applied",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { lab, api } = env!;
        const s = env!.sidecar!;
        const from = s.logs.length;
        await assertNeverMissingDuring(
          lab,
          [4],
          [A, B, "10.96.0.12/32"],
          "the API server restart",
          async () => {
            restarting = api.restart({ downtimeMs: 2500 });
            await restarting;
            restarting = undefined;
            await waitForLogFrom(
              s,
              (l) => l.msg === "watch failed; listing again",
              from,
              ROUTE_WAIT,
              "the sidecar noticing the outage",
            );
            for (const p of WATCHED) await api.waitForWatchers(p, 1, 45_000);
            for (const o of svc("d", "10.96.0.13")) api.upsert(o);
            await lab.waitForTorRoutes(hasAll("10.96.0.13/32"), 45_000, { family: 4 });
          },
        );
      }),
  );

  void test(
    "a watch failing with HTTP 500 → nothing withdrawn meanwhile; a change after recovery is applied",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { lab, api } = env!;
        const s = env!.sidecar!;
        const from = s.logs.length;
        await assertNeverMissingDuring(
          lab,
          [4],
          [A, "10.96.0.12/32", "10.96.0.13/32"],
          "the failing watch",
          async () => {
            // The next two EndpointSlice watches fail; closing the streams makes the client re-watch now.
            api.failNext((r) => r.watch && r.path === SLICES, 500, 2);
            api.closeWatches();
            await waitForLogFrom(
              s,
              (l) => l.msg === "watch failed; listing again" && l["resource"] === "endpointslices",
              from,
              ROUTE_WAIT,
              "the failed EndpointSlice watch",
            );
            for (const p of WATCHED) await api.waitForWatchers(p, 1, 45_000);
            // Changes through the resource whose watch failed: one withdrawal, one new service.
            api.upsert(slice("b", [{ ready: false }]));
            for (const o of svc("e", "10.96.0.14")) api.upsert(o);
            await lab.waitForTorRoutes((r) => !r.has(B) && r.has("10.96.0.14/32"), 45_000, { family: 4 });
          },
        );
        const r = await s.get("/readyz");
        assert.equal(r.status, 200, r.body);
      }),
  );

  void test(
    "an address removed behind the sidecar's back is seen by the kernel monitor and put back at once",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const s = env!.sidecar!;
        const from = s.logs.length;
        await execa("ip", ["-n", env!.lab.nodeNs, "addr", "del", A, "dev", "lo"]);
        const seen = await waitForLogFrom(
          s,
          (l) => l.msg === "interface address changed behind our back; repairing",
          from,
          ROUTE_WAIT,
          "the monitor's drift report",
        );
        assert.equal(s.logs[seen]?.["address"], A.split("/")[0]);
        await waitUntil(async () => (await loAddresses(env!)).includes(A), 3000, "the address back on lo");
      }),
  );
});
