// End to end, what an operator sees: Kubernetes Events on the Services (advertised, withdrawn,
// refused — posted to the fake API server by the real process, deduplicated), /healthz and
// /readyz, and /metrics with prefixes per family, verdict reasons, applies, and the BGP session
// read from the real FRR.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { StoredObject } from "../fakes/fake-kube-api.js";
import { hasAll, hasNone } from "../lab/netns-lab.js";
import { service, slice, type SidecarLab, type SidecarProcess } from "./harness.js";
import {
  metricValue,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  TEST_TIMEOUT,
  waitUntil,
  withDiagnostics,
  startedSidecarLab,
} from "./e2e-helpers.js";

const WEB = "10.96.0.10";
const BAD = "10.96.0.20";
const FAR_CLUSTER = "10.96.0.30";
const FAR_LB = "198.51.100.7"; // outside the lab's allowedCidrs
const host = (ip: string): string => `${ip}/32`;

interface EventView {
  readonly service: string;
  readonly uid: string | undefined;
  readonly reason: string;
  readonly type: string;
  readonly message: string;
  readonly host: string;
}

/** The first sample of `name` whose labels include every `label="value"` given, or undefined. */
async function sampleWith(
  s: SidecarProcess,
  name: string,
  labels: readonly string[],
): Promise<number | undefined> {
  const { status, body } = await s.get("/metrics");
  assert.equal(status, 200);
  for (const line of body.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const set = line.slice(name.length + 1, line.indexOf("}"));
    if (labels.every((l) => set.split(",").includes(l))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

function view(e: StoredObject): EventView {
  const o = e as unknown as {
    involvedObject: { kind: string; namespace: string; name: string; uid?: string };
    reason: string;
    type: string;
    message: string;
    source?: { host?: string };
  };
  assert.equal(o.involvedObject.kind, "Service");
  return {
    service: `${o.involvedObject.namespace}/${o.involvedObject.name}`,
    uid: o.involvedObject.uid,
    reason: o.reason,
    type: o.type,
    message: o.message,
    host: o.source?.host ?? "",
  };
}

void describe("operating surface", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  const lab = () => {
    assert.ok(env, "lab not created");
    return env;
  };
  const events = (): EventView[] => lab().api.events().map(view);
  const eventsFor = (svc: string, reason: string): EventView[] =>
    events().filter((e) => e.service === svc && e.reason === reason);
  const firstEvent = (svc: string, reason: string): EventView => {
    const found = eventsFor(svc, reason).at(0);
    assert.ok(found, `no ${reason} Event on ${svc}: ${JSON.stringify(events())}`);
    return found;
  };

  before(
    async () => {
      env = await startedSidecarLab({
        objects: [
          service("web", { clusterIPs: [WEB] }),
          slice("web", [{ ready: true }]),
          // A malformed attribute fails closed: not advertised, and the owner is told.
          service("bad", {
            clusterIPs: [BAD],
            annotations: { "frr-advertiser.io/communities": "65000:x\n!\nrouter bgp 1" },
          }),
          slice("bad", [{ ready: true }]),
          service("far", { clusterIPs: [FAR_CLUSTER], lbIPs: [FAR_LB] }),
          slice("far", [{ ready: true }]),
        ],
        config: { timings: { batchWindowMs: 20, frrPollIntervalMs: 200, sessionPollSeconds: 1 } },
      });
      await env.lab.waitForTorRoutes(hasAll(host(WEB), host(FAR_CLUSTER)), ROUTE_WAIT, { family: 4 });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
  });

  void test("/healthz and /readyz answer 200 once synced and applied", { timeout: TEST_TIMEOUT }, () =>
    withDiagnostics(env, async () => {
      const s = lab().sidecar!;
      assert.equal((await s.get("/healthz")).status, 200);
      const ready = await s.get("/readyz");
      assert.equal(ready.status, 200, ready.body);
    }),
  );

  void test(
    "Events: Refused (bad annotation, outside allowed CIDRs) names this node and why; start is silent otherwise",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        await waitUntil(
          () =>
            eventsFor("default/bad", "Refused").length > 0 && eventsFor("default/far", "Refused").length > 0,
          ROUTE_WAIT,
          "Refused Events at the API server",
        );
        const bad = firstEvent("default/bad", "Refused");
        assert.equal(bad.type, "Warning");
        assert.equal(bad.host, "node-a");
        // Tied to the object by uid: `kubectl describe svc` selects Events by involvedObject.uid.
        const badSvc = lab().api.get("Service", "default", "bad");
        assert.ok(badSvc?.metadata.uid);
        assert.equal(bad.uid, badSvc.metadata.uid);
        assert.match(bad.message, /node node-a refuses to advertise 10\.96\.0\.20: .*communities/);
        const far = firstEvent("default/far", "Refused");
        assert.match(far.message, /198\.51\.100\.7: .*outside the allowed CIDRs/);
        // The first pass after start is the baseline: a restart does not re-announce every Service.
        assert.deepEqual(
          events().filter((e) => e.reason !== "Refused"),
          [],
          "only refusals are posted at start",
        );
        // The refused prefixes never reached FRR.
        const tor = await lab().lab.torRoutes(4);
        assert.ok(!tor.has(host(BAD)) && !tor.has(host(FAR_LB)), `tor: ${[...tor].join(" ")}`);
      }),
  );

  void test(
    "Events: Withdrawn and Advertised as health changes; a flap is deduplicated",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const { api } = lab();
        const s = lab().sidecar!;
        const duplicates = async () =>
          (await sampleWith(s, "frr_advertiser_events_total", ['result="duplicate"'])) ?? 0;
        const flap = async (ready: boolean) => {
          api.upsert(slice("web", [{ ready }]));
          await lab().lab.waitForTorRoutes(ready ? hasAll(host(WEB)) : hasNone(host(WEB)), ROUTE_WAIT, {
            family: 4,
          });
        };
        await flap(false);
        await waitUntil(
          () => eventsFor("default/web", "Withdrawn").length > 0,
          ROUTE_WAIT,
          "Withdrawn Event",
        );
        const w = firstEvent("default/web", "Withdrawn");
        assert.equal(w.type, "Normal");
        assert.match(w.message, /^node node-a stopped advertising 10\.96\.0\.10 \(.+\)$/);

        await flap(true);
        await waitUntil(
          () => eventsFor("default/web", "Advertised").length > 0,
          ROUTE_WAIT,
          "Advertised Event",
        );
        assert.match(
          firstEvent("default/web", "Advertised").message,
          /^node node-a advertises 10\.96\.0\.10$/,
        );

        // The same two messages again, inside the dedupe window: counted, not posted.
        const before = await duplicates();
        await flap(false);
        await flap(true);
        await waitUntil(async () => (await duplicates()) >= before + 2, ROUTE_WAIT, "two duplicates counted");
        assert.equal(eventsFor("default/web", "Withdrawn").length, 1, "Withdrawn posted once");
        assert.equal(eventsFor("default/web", "Advertised").length, 1, "Advertised posted once");
      }),
  );

  void test(
    "/metrics: prefixes per family, verdict reasons, applies, and the BGP session from FRR",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const s = lab().sidecar!;
        await waitUntil(
          async () => (await sampleWith(s, "frr_advertiser_bgp_session_up", ['family="ipv4"'])) === 1,
          ROUTE_WAIT,
          "bgp_session_up 1",
        );
        // web and far's clusterIP: two IPv4 prefixes, none IPv6.
        assert.equal(await metricValue(s, 'frr_advertiser_prefixes_advertised{family="ipv4"}'), 2);
        assert.equal((await metricValue(s, 'frr_advertiser_prefixes_advertised{family="ipv6"}')) ?? 0, 0);
        assert.equal(
          await metricValue(s, 'frr_advertiser_service_addresses{reason="invalid-annotation"}'),
          1,
        );
        assert.equal(
          await metricValue(s, 'frr_advertiser_service_addresses{reason="outside-allowed-cidrs"}'),
          1,
        );
        await waitUntil(
          async () => (await sampleWith(s, "frr_advertiser_bgp_prefixes_sent", ['family="ipv4"'])) === 2,
          ROUTE_WAIT,
          "bgp_prefixes_sent 2 (read from FRR)",
        );
        assert.ok(
          ((await metricValue(s, 'frr_advertiser_frr_applies_total{method="delta",result="ok"}')) ?? 0) >= 1,
        );
        assert.equal(await metricValue(s, "frr_advertiser_config_stale"), 0);
        assert.ok(((await metricValue(s, "frr_advertiser_last_success_timestamp_seconds")) ?? 0) > 1.7e9);
        assert.ok((await metricValue(s, "frr_advertiser_process_resident_memory_bytes")) !== undefined);
      }),
  );
});
