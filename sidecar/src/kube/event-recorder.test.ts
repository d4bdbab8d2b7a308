// Dedupe and rate limits: a flapping endpoint cannot flood the API server with Events.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { CoreV1Event } from "@kubernetes/client-node";
import { EventRecorder } from "./event-recorder.js";

function setup(opts: { perServiceBurst?: number; globalBurst?: number } = {}) {
  let now = 1_000_000;
  const posted: { ns: string; body: CoreV1Event }[] = [];
  const dropped: string[] = [];
  const rec = new EventRecorder(
    (ns, body) => {
      posted.push({ ns, body });
      return Promise.resolve();
    },
    {
      nodeName: "n1",
      dedupeWindowMs: 60_000,
      perServiceBurst: opts.perServiceBurst ?? 3,
      perServiceRefillMs: 10_000,
      globalBurst: opts.globalBurst ?? 100,
      globalRefillMs: 100,
      now: () => now,
      onDropped: (why) => dropped.push(why),
    },
  );
  return { rec, posted, dropped, advance: (ms: number) => (now += ms) };
}

const ev = (service: string, message: string) => ({
  service,
  type: "Normal" as const,
  reason: "Advertised",
  message,
});

void test("an Event names the Service, the node and the reason", () => {
  const { rec, posted } = setup();
  assert.equal(rec.record(ev("shop/web", "node n1 advertises 10.0.0.1")), true);
  const e = posted[0]!;
  assert.equal(e.ns, "shop");
  assert.deepEqual(e.body.involvedObject, {
    apiVersion: "v1",
    kind: "Service",
    namespace: "shop",
    name: "web",
  });
  assert.equal(e.body.reason, "Advertised");
  assert.equal(e.body.source?.host, "n1");
  assert.equal(e.body.reportingInstance, "n1");
});

void test("the Service's uid goes into involvedObject (kubectl describe selects Events by it)", () => {
  const { rec, posted } = setup();
  rec.record({
    ...ev("shop/web", "node n1 advertises 10.0.0.1"),
    uid: "5f0c9a1e-0000-4000-8000-000000000001",
  });
  assert.equal(posted[0]!.body.involvedObject.uid, "5f0c9a1e-0000-4000-8000-000000000001");
});

void test("the same Event within the dedupe window is sent once", () => {
  const { rec, posted, dropped, advance } = setup();
  rec.record(ev("a/web", "m"));
  advance(30_000);
  rec.record(ev("a/web", "m"));
  assert.equal(posted.length, 1);
  assert.deepEqual(dropped, ["duplicate"]);
  advance(31_000);
  rec.record(ev("a/web", "m"));
  assert.equal(posted.length, 2);
});

void test("a flapping Service is held to its token bucket; others are not affected", () => {
  const { rec, posted, dropped, advance } = setup({ perServiceBurst: 3 });
  for (let i = 0; i < 50; i++) rec.record(ev("a/flappy", `flip ${i}`));
  assert.equal(posted.length, 3);
  assert.equal(dropped.filter((d) => d === "rate-limited").length, 47);
  assert.equal(rec.record(ev("a/calm", "m")), true);
  advance(10_000);
  assert.equal(rec.record(ev("a/flappy", "flip again")), true, "one token back after the refill period");
  assert.equal(rec.record(ev("a/flappy", "and again")), false);
});

void test("the node-wide bucket bounds the total", () => {
  const { rec, posted } = setup({ perServiceBurst: 100, globalBurst: 10 });
  for (let i = 0; i < 100; i++) rec.record(ev(`a/s${i}`, "m"));
  assert.equal(posted.length, 10);
});
