// ClusterWatch against the fake API server (real list/watch over HTTP, real client-node).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FakeKubeApi, kubeConfigFor } from "../../../tests/fakes/fake-kube-api.js";
import { systemClock } from "../clock.js";
import { ClusterStore } from "./cluster-store.js";
import { ClusterWatch } from "./cluster-watch.js";

const api = new FakeKubeApi();
let url = "";
before(async () => {
  ({ url } = await api.start());
  api.upsert({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
});
after(async () => {
  await api.stop();
});

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("a list that never answers times out, the informer restarts, and syncs once the API answers", async () => {
  const store = new ClusterStore();
  const restarts: string[] = [];
  const warnings: string[] = [];
  api.pause();
  const watch = new ClusterWatch(kubeConfigFor(url), store, {
    nodeName: "n1",
    onChange: () => undefined,
    onRestart: (r) => restarts.push(r),
    log: { debug: () => undefined, info: () => undefined, warn: (f) => warnings.push(JSON.stringify(f)) },
    listTimeoutMs: 300,
    clock: systemClock,
    minBackoffMs: 50,
    maxBackoffMs: 100,
  });
  const started = watch.start();
  try {
    await until(() => restarts.length >= 3, "restarts of the three informers");
    assert.equal(watch.synced, false);
    assert.ok(
      warnings.some((w) => w.includes("did not answer within 300 ms")),
      warnings.join("\n"),
    );
    api.resume();
    await until(() => watch.synced, "sync after the API answers again");
    assert.equal(store.node?.name, "n1");
  } finally {
    api.resume();
    await watch.stop();
    await started;
  }
});
