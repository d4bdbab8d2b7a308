// End to end, two labs: a dual-stack Service's /32 and /128 reach the tor over a numbered eBGP
// session (IPv4 peering carrying both families) and over an unnumbered one (IPv6 link-local,
// extended next hop, RFC 5549) — in the tor's BGP table and in its kernel FIB.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hasAll, hasNone } from "../lab/netns-lab.js";
import { service, slice, type SidecarLab } from "./harness.js";
import {
  assertDiskEqualsRunning,
  loAddresses,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  TEST_TIMEOUT,
  assertNeverMissingDuring,
  withDiagnostics,
  startedSidecarLab,
} from "./e2e-helpers.js";

const V4 = "10.96.0.20";
const V6 = "fd00:96::20";
const V4_ONLY = "10.96.0.21";
const V6_ONLY = "fd00:96::21";

/** A dual-stack Service with IPv4 and IPv6 endpoint slices, plus one single-stack Service per family. */
function objects() {
  return [
    service("dual", { clusterIPs: [V4, V6] }),
    slice("dual", [{ ready: true }], "dual-v4", { family: "IPv4" }),
    slice("dual", [{ ready: true }], "dual-v6", { family: "IPv6" }),
    service("only4", { clusterIPs: [V4_ONLY] }),
    slice("only4", [{ ready: true }]),
    service("only6", { clusterIPs: [V6_ONLY] }),
    slice("only6", [{ ready: true }], "only6-1", { family: "IPv6" }),
  ];
}

for (const unnumbered of [false, true]) {
  const name = unnumbered
    ? "dual-stack over an unnumbered session (IPv6 link-local, extended next hop)"
    : "dual-stack over a numbered session";
  void describe(name, { skip: SKIP }, () => {
    let env: SidecarLab | undefined;

    before(
      async () => {
        env = await startedSidecarLab({ unnumbered, objects: objects() });
      },
      { timeout: SETUP_TIMEOUT },
    );

    after(async () => {
      await env?.stop();
    });

    void test("the /32 and the /128 reach the tor's BGP table and FIB", { timeout: TEST_TIMEOUT }, () =>
      withDiagnostics(env, async () => {
        const lab = env!.lab;
        await lab.waitForTorRoutes(hasAll(`${V4}/32`, `${V4_ONLY}/32`), ROUTE_WAIT, { family: 4 });
        await lab.waitForTorRoutes(hasAll(`${V6}/128`, `${V6_ONLY}/128`), ROUTE_WAIT, { family: 6 });
        // Installed, i.e. the next hop resolved (over link-local + extended next hop when unnumbered).
        await lab.waitForTorRoutes(hasAll(`${V4}/32`, `${V4_ONLY}/32`), ROUTE_WAIT, {
          family: 4,
          source: "fib",
        });
        await lab.waitForTorRoutes(hasAll(`${V6}/128`, `${V6_ONLY}/128`), ROUTE_WAIT, {
          family: 6,
          source: "fib",
        });
        const lo = await loAddresses(env!);
        for (const a of [`${V4}/32`, `${V4_ONLY}/32`, `${V6}/128`, `${V6_ONLY}/128`])
          assert.ok(lo.includes(a), `${a} on lo`);
        await assertDiskEqualsRunning(env!, "dual-stack");
      }),
    );

    void test(
      "IPv6 endpoints going unready withdraw the /128 only; back again re-announces it",
      { timeout: TEST_TIMEOUT },
      () =>
        withDiagnostics(env, async () => {
          const lab = env!.lab;
          const api = env!.api;
          await assertNeverMissingDuring(
            lab,
            [4, 6],
            [`${V4}/32`, `${V6}/128`, `${V4_ONLY}/32`],
            "the IPv6 endpoint changes",
            async () => {
              // The dual-stack Service counts endpoints of both families: one family unready is
              // not unhealthy.
              api.upsert(slice("dual", [{ ready: false }], "dual-v6", { family: "IPv6" }));
              // only6's slice changes after dual's, on the same watch: once its /128 is gone at the
              // tor, the sidecar has acted on dual's change too, and the sampler saw what that did.
              api.upsert(slice("only6", [{ ready: false }], "only6-1", { family: "IPv6" }));
              await lab.waitForTorRoutes(hasNone(`${V6_ONLY}/128`), ROUTE_WAIT, { family: 6 });
              api.upsert(slice("only6", [{ ready: true }], "only6-1", { family: "IPv6" }));
              await lab.waitForTorRoutes(hasAll(`${V6_ONLY}/128`), ROUTE_WAIT, { family: 6 });
            },
          );
        }),
    );
  });
}
