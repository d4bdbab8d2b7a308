// Reflector against the fake API server: paged lists, expired continue tokens, bookmarks,
// 410 relists that touch only what changed, and unreadable objects skipped one by one.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FakeKubeApi, kubeConfigFor } from "../../../tests/fakes/fake-kube-api.js";
import { systemClock, type Clock } from "../clock.js";
import { FakeClock } from "../clock.test-helper.js";
import { Reflector, type ReflectorSink } from "./reflector.js";
import { ApiWatch, type WatchOpener } from "./watch-stream.js";

const SERVICES = "/api/v1/services";
const api = new FakeKubeApi();
let url = "";
before(async () => {
  ({ url } = await api.start());
});
after(async () => {
  await api.stop();
});

interface Item {
  readonly key: string;
  readonly port: number;
}

class RecordingSink implements ReflectorSink<Item> {
  readonly items = new Map<string, Item>();
  readonly calls: string[] = [];
  upsert(item: Item): void {
    this.items.set(item.key, item);
    this.calls.push(`upsert ${item.key}`);
  }
  remove(key: string): void {
    this.items.delete(key);
    this.calls.push(`remove ${key}`);
  }
  retain(keys: ReadonlySet<string>): void {
    for (const key of [...this.items.keys()]) if (!keys.has(key)) this.remove(key);
  }
  changed(): void {
    /* counted through calls */
  }
}

function svc(name: string, port = 80, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default", ...extra },
    spec: { ports: [{ port }] },
  };
}

/** The test's convert: reads one field; throws on a Service without ports (an unreadable object). */
function convert(raw: unknown): Item {
  const o = raw as { metadata: { namespace: string; name: string }; spec?: { ports?: { port: number }[] } };
  const port = o.spec?.ports?.[0]?.port;
  if (port === undefined) throw new Error("no ports");
  return { key: `${o.metadata.namespace}/${o.metadata.name}`, port };
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function reflector(
  sink: RecordingSink,
  warnings: string[] = [],
  pageSize = 3,
  watch?: WatchOpener,
  timing: { readonly clock: Clock; readonly minBackoffMs: number } = { clock: systemClock, minBackoffMs: 20 },
) {
  const kc = kubeConfigFor(url);
  return new Reflector(kc, watch ?? new ApiWatch(kc), sink, {
    resource: "services",
    path: SERVICES,
    convert,
    pageSize,
    minBackoffMs: timing.minBackoffMs,
    maxBackoffMs: Math.max(50, timing.minBackoffMs * 4),
    clock: timing.clock,
    log: { debug: () => undefined, warn: (f, m) => warnings.push(`${m} ${JSON.stringify(f)}`) },
  });
}

function clear(): void {
  for (const s of api.list("Service")) api.remove("Service", s.metadata.namespace, s.metadata.name);
  api.clearRequests();
}

test("lists in pages, then watches from the list's resourceVersion", async () => {
  clear();
  for (let i = 0; i < 8; i++) api.upsert(svc(`s${i}`));
  const sink = new RecordingSink();
  const r = reflector(sink);
  const pagesBefore = api.pagesServed;
  try {
    await r.start();
    assert.equal(r.isSynced, true);
    assert.equal(sink.items.size, 8);
    assert.equal(api.pagesServed - pagesBefore, 3, "8 objects in pages of 3");
    const lists = api.requests().filter((q) => q.path === SERVICES && !q.watch);
    assert.deepEqual(
      lists.map((q) => q.query.limit),
      ["3", "3", "3"],
    );
    assert.equal(lists[0]?.query.continue, undefined);
    assert.ok(lists[1]?.query.continue !== undefined);
    await api.waitForWatchers(SERVICES, 1);
    api.upsert(svc("s1", 81));
    api.remove("Service", "default", "s2");
    await until(() => sink.items.get("default/s1")?.port === 81 && !sink.items.has("default/s2"), "events");
  } finally {
    await r.stop();
  }
});

test("a continue token that expired mid-list: the list starts over and is complete", async () => {
  clear();
  for (let i = 0; i < 7; i++) api.upsert(svc(`s${i}`));
  const sink = new RecordingSink();
  let compacted = false;
  // Compaction just before the first continued page is served: its token is gone (410 Expired).
  api.failNext((q) => {
    if (!compacted && q.query.continue !== undefined) {
      compacted = true;
      api.compact();
    }
    return false;
  });
  const r = reflector(sink);
  try {
    await r.start();
    assert.equal(compacted, true);
    assert.equal(r.isSynced, true);
    assert.equal(sink.items.size, 7);
    const fresh = api
      .requests()
      .filter((q) => q.path === SERVICES && !q.watch && q.query.continue === undefined);
    assert.equal(fresh.length, 2, "the first list and the one that started over");
  } finally {
    await r.stop();
  }
});

test("bookmarks move the resourceVersion the next watch starts from", async () => {
  clear();
  api.upsert(svc("a"));
  const sink = new RecordingSink();
  const r = reflector(sink);
  try {
    await r.start();
    await api.waitForWatchers(SERVICES, 1);
    const first = api.requests().find((q) => q.path === SERVICES && q.watch);
    assert.ok(first !== undefined);
    assert.equal(first.query.allowWatchBookmarks, "true");
    // Changes to another resource move the global resourceVersion; only a bookmark tells us.
    api.upsert({ apiVersion: "v1", kind: "Node", metadata: { name: "bm" } });
    api.upsert({ apiVersion: "v1", kind: "Node", metadata: { name: "bm", labels: { x: "1" } } });
    api.bookmark();
    await new Promise((res) => setTimeout(res, 100));
    api.clearRequests();
    api.closeWatches();
    await api.waitForWatchers(SERVICES, 1);
    const rewatch = api.requests().find((q) => q.path === SERVICES && q.watch);
    assert.ok(rewatch !== undefined, "re-watched");
    assert.ok(
      Number(rewatch.query.resourceVersion) > Number(first.query.resourceVersion),
      `${rewatch.query.resourceVersion} > ${first.query.resourceVersion}`,
    );
    assert.equal(
      api.requests().filter((q) => q.path === SERVICES && !q.watch).length,
      0,
      "a clean end re-watches without listing",
    );
  } finally {
    await r.stop();
    api.remove("Node", undefined, "bm");
  }
});

test("410 on the watch relists at once; unchanged objects are not handed to the sink again", async () => {
  clear();
  for (let i = 0; i < 5; i++) api.upsert(svc(`s${i}`));
  const sink = new RecordingSink();
  const r = reflector(sink);
  try {
    await r.start();
    await api.waitForWatchers(SERVICES, 1);
    sink.calls.length = 0;
    api.compact(); // the watch's resourceVersion is now too old
    api.upsert(svc("s0", 90));
    api.remove("Service", "default", "s4");
    api.expireWatches();
    await until(() => sink.items.get("default/s0")?.port === 90 && !sink.items.has("default/s4"), "relist");
    assert.deepEqual(sink.calls.sort(), ["remove default/s4", "upsert default/s0"]);
  } finally {
    await r.stop();
  }
});

test("a watch refused with HTTP 410 (not an ERROR event) relists at once, without a backoff", async () => {
  clear();
  for (let i = 0; i < 3; i++) api.upsert(svc(`s${i}`));
  api.failNext((q) => q.path === SERVICES && q.watch, 410);
  const sink = new RecordingSink();
  const warnings: string[] = [];
  const r = reflector(sink, warnings);
  try {
    await r.start();
    await api.waitForWatchers(SERVICES, 1);
    const lists = api
      .requests()
      .filter((q) => q.path === SERVICES && !q.watch && q.query.continue === undefined);
    assert.equal(lists.length, 2, "listed again after the refused watch");
    assert.deepEqual(warnings, [], "an expiry is no failure");
    assert.equal(r.isSynced, true);
  } finally {
    await r.stop();
  }
});

test("an unreadable object is skipped and logged; the others and the sync are unaffected", async () => {
  clear();
  api.upsert(svc("good"));
  const bad = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "bad", namespace: "default" },
    spec: {},
  };
  api.upsert(bad);
  const sink = new RecordingSink();
  const warnings: string[] = [];
  const r = reflector(sink, warnings);
  try {
    await r.start();
    assert.equal(r.isSynced, true);
    assert.deepEqual([...sink.items.keys()], ["default/good"]);
    assert.ok(
      warnings.some((w) => w.startsWith("ignoring unreadable object") && w.includes("default/bad")),
      warnings.join("\n"),
    );
  } finally {
    await r.stop();
  }
});

test("a failing list is retried with backoff and then syncs", async () => {
  clear();
  api.upsert(svc("a"));
  api.failNext((q) => q.path === SERVICES && !q.watch, 500, 2);
  const sink = new RecordingSink();
  const warnings: string[] = [];
  const r = reflector(sink, warnings);
  try {
    await r.start();
    assert.equal(r.isSynced, false);
    await until(() => r.isSynced, "sync after retries");
    assert.equal(sink.items.size, 1);
    assert.equal(warnings.filter((w) => w.startsWith("watch failed; listing again")).length, 2);
  } finally {
    await r.stop();
  }
});

test("the relist after a failure waits out its backoff on the injected clock, doubling each time", async () => {
  clear();
  api.upsert(svc("a"));
  api.failNext((q) => q.path === SERVICES && !q.watch, 500, 2);
  const clock = new FakeClock();
  const sink = new RecordingSink();
  const r = reflector(sink, [], 3, undefined, { clock, minBackoffMs: 1000 });
  const lists = () => api.requests().filter((q) => q.path === SERVICES && !q.watch).length;
  try {
    await r.start();
    assert.equal(lists(), 1);
    await clock.advance(999);
    assert.equal(lists(), 1, "no relist before the first backoff (1 s)");
    await clock.advance(1);
    // Well before a real 1 s timer could fire: the relist runs on the injected clock.
    await until(() => lists() === 2, "the relist at 1 s", 500);
    await until(() => clock.pending === 1, "the second failure's backoff armed");
    await clock.advance(1999);
    assert.equal(lists(), 2, "no relist before the second backoff (2 s)");
    await clock.advance(1);
    await until(() => r.isSynced, "the sync at the third list", 500);
    assert.equal(lists(), 3);
    assert.equal(sink.items.size, 1);
  } finally {
    await r.stop();
  }
});

test("a watch that cannot even start (credentials unreadable) is a failure like any other", async () => {
  clear();
  api.upsert(svc("a"));
  const sink = new RecordingSink();
  const warnings: string[] = [];
  let attempts = 0;
  const failingWatch = {
    watch: () => {
      attempts++;
      return Promise.reject(new Error("token file unreadable"));
    },
  } as unknown as WatchOpener;
  const r = reflector(sink, warnings, 3, failingWatch);
  try {
    await r.start();
    await until(() => attempts >= 2, "a retry after the failed watch");
    assert.equal(sink.items.size, 1, "the list's content stays");
    assert.ok(
      warnings.some((w) => w.includes("token file unreadable")),
      warnings.join("\n"),
    );
  } finally {
    await r.stop();
  }
});
