// End to end, the mass-withdrawal breaker against the fake API and real FRR: an empty relist after
// a 410, most Services deleted at once, and the Node object deleted each keep the tor's routes for
// the hold time (said in /readyz, a metric and a Node Event) and apply only if the state persists;
// a genuine drain of the node is never held.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hasAll, hasNone } from "../lab/netns-lab.js";
import { node, NODE, service, slice, type SidecarLab } from "./harness.js";
import {
  assertNeverMissingDuring,
  metricValue,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  startedSidecarLab,
  TEST_TIMEOUT,
  waitUntil,
  withDiagnostics,
} from "./e2e-helpers.js";

const HOLD_SECONDS = 6;
const COUNT = 6;
const ips = Array.from({ length: COUNT }, (_, i) => `10.96.0.${20 + i}`);
const prefixes = ips.map((ip) => `${ip}/32`);

function objects() {
  return ips.flatMap((ip, i) => [service(`s${i}`, { clusterIPs: [ip] }), slice(`s${i}`, [{ ready: true }])]);
}

void describe("mass-withdrawal breaker", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  let heldEventsSeen = 0;

  before(
    async () => {
      env = await startedSidecarLab({
        objects: objects(),
        config: {
          safety: {
            withdrawalBreaker: { holdSeconds: HOLD_SECONDS, minWithdrawals: 3 },
            // A drain's graceful wait (node-drain.e2e.test.ts) kept well below the hold time.
            gracefulShutdown: { waitSeconds: 1 },
          },
        },
      });
      await env.lab.waitForTorRoutes(hasAll(...prefixes), ROUTE_WAIT, { family: 4 });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
  });

  /** Every Service back (and the Node), and the tor has them all again. */
  async function restore(e: SidecarLab): Promise<void> {
    e.api.upsert(node());
    for (const o of objects()) e.api.upsert(o);
    await e.lab.waitForTorRoutes(hasAll(...prefixes), ROUTE_WAIT, { family: 4 });
    await waitUntil(async () => (await e.sidecar!.get("/readyz")).status === 200, ROUTE_WAIT, "/readyz 200");
  }

  /** The tor is sampled meanwhile: a second of a hold shows that nothing left it. */
  async function sampledWhileHeld(): Promise<void> {
    await new Promise((r) => setTimeout(r, 1500));
  }

  /** The hold as the operator sees it: /readyz, the metric, an Event on the Node. */
  async function assertHeldVisibly(e: SidecarLab, held: number): Promise<void> {
    const s = e.sidecar!;
    await waitUntil(
      async () => (await metricValue(s, "frr_advertiser_withdrawals_held")) === held,
      ROUTE_WAIT,
      `the held-withdrawals gauge at ${held}`,
    );
    const ready = await s.get("/readyz");
    assert.equal(ready.status, 503);
    assert.match(ready.body, new RegExp(`mass-withdrawal breaker: holding ${held} of ${COUNT} prefixes`));
    const events = e.api.events().filter((ev) => (ev as { reason?: string }).reason === "WithdrawalsHeld");
    assert.ok(events.length > heldEventsSeen, "a new WithdrawalsHeld Event");
    heldEventsSeen = events.length;
    const involved = (events.at(-1) as { involvedObject?: { kind?: string; name?: string } }).involvedObject;
    assert.deepEqual([involved?.kind, involved?.name], ["Node", NODE]);
  }

  void test(
    "most Services deleted at once: held for the hold time, then withdrawn",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = env!;
        const started = Date.now();
        await assertNeverMissingDuring(e.lab, [4], prefixes, "the hold", async () => {
          for (let i = 0; i < COUNT - 1; i++) e.api.remove("Service", "default", `s${i}`);
          await assertHeldVisibly(e, COUNT - 1);
          // Sampled until shortly before the hold ends.
          const left = HOLD_SECONDS * 1000 - (Date.now() - started) - 1000;
          if (left > 0) await new Promise((r) => setTimeout(r, left));
        });
        // The state persisted: the withdrawals are applied once the hold ran out.
        await e.lab.waitForTorRoutes(hasNone(...prefixes.slice(0, COUNT - 1)), ROUTE_WAIT, { family: 4 });
        assert.ok(Date.now() - started >= HOLD_SECONDS * 1000 - 500, "not before the hold time");
        assert.equal(
          await metricValue(e.sidecar!, 'frr_advertiser_withdrawal_holds_total{transition="released"}'),
          1,
        );
        await restore(e);
      }),
  );

  void test(
    "an empty list after a 410 and a vanished Node are held; recovery clears the hold",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = env!;
        await assertNeverMissingDuring(
          e.lab,
          [4],
          prefixes,
          "the empty relist and its recovery",
          async () => {
            // The watches end with 410 Gone while the API removes everything unseen: the relist is empty.
            e.api.pause();
            for (let i = 0; i < COUNT; i++) e.api.remove("Service", "default", `s${i}`);
            e.api.compact();
            e.api.expireWatches();
            e.api.resume();
            await assertHeldVisibly(e, COUNT);
            await sampledWhileHeld();
            await restore(e);
          },
        );
        assert.equal(
          await metricValue(e.sidecar!, 'frr_advertiser_withdrawal_holds_total{transition="cleared"}'),
          1,
        );
        await assertNeverMissingDuring(e.lab, [4], prefixes, "the Node object's absence", async () => {
          e.api.remove("Node", undefined, NODE);
          await assertHeldVisibly(e, COUNT);
          await sampledWhileHeld();
          await restore(e);
        });
      }),
  );

  void test("a genuine drain of the node is not held", { timeout: TEST_TIMEOUT }, () =>
    withDiagnostics(env, async () => {
      const e = env!;
      const started = Date.now();
      e.api.upsert(
        node({}, { metadata: { name: NODE, annotations: { "frr-advertiser.io/drain": "true" } } }),
      );
      await e.lab.waitForTorRoutes(hasNone(...prefixes), ROUTE_WAIT, { family: 4 });
      assert.ok(
        Date.now() - started < HOLD_SECONDS * 1000,
        `withdrawn at once, not after the hold (${Date.now() - started} ms)`,
      );
      assert.equal(await metricValue(e.sidecar!, "frr_advertiser_withdrawals_held"), 0);
      e.api.upsert(node());
      await e.lab.waitForTorRoutes(hasAll(...prefixes), ROUTE_WAIT, { family: 4 });
    }),
  );
});
