// Proves the fake API server against real @kubernetes/client-node informers and API clients.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CoreV1Api,
  EventsV1Api,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
  V1MicroTime,
  type CoreV1Event,
  type EventsV1Event,
  type V1Service,
} from "@kubernetes/client-node";
import {
  FakeKubeApi,
  kubeConfigFor,
  writeKubeconfig,
  type KubeObject,
  type StoredObject,
} from "./fake-kube-api.js";

const SERVICES = "/api/v1/services";

function service(name: string, labels: Record<string, string> = {}, namespace = "default"): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, labels },
    spec: { type: "LoadBalancer", ports: [{ port: 80 }] },
  } as KubeObject;
}

async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface Seen {
  verb: "add" | "update" | "delete";
  name: string;
  rv: string | undefined;
}

/** What an informer reported, in order. Callbacks only record: a throwing callback kills the process. */
class Recorder {
  readonly seen: Seen[] = [];
  readonly errors: unknown[] = [];
  connects = 0;

  constructor(informer: Informer<KubernetesObject>) {
    for (const verb of ["add", "update", "delete"] as const) {
      informer.on(verb, (obj) => {
        this.seen.push({ verb, name: obj.metadata?.name ?? "", rv: obj.metadata?.resourceVersion });
      });
    }
    informer.on("error", (err) => {
      this.errors.push(err);
    });
    informer.on("connect", () => {
      this.connects++;
    });
  }

  names(verb: Seen["verb"]): string[] {
    return this.seen.filter((s) => s.verb === verb).map((s) => s.name);
  }

  async waitFor(verb: Seen["verb"], name: string): Promise<void> {
    await until(`${verb} ${name}`, () => this.seen.some((s) => s.verb === verb && s.name === name));
  }
}

interface Harness {
  api: FakeKubeApi;
  kc: KubeConfig;
  core: CoreV1Api;
  serviceInformer: (labelSelector?: string) => Informer<V1Service> & ObjectCache<V1Service>;
}

/** A started fake plus informer factory; everything is stopped when the test ends. */
async function harness(t: TestContext): Promise<Harness> {
  const api = new FakeKubeApi();
  const { url } = await api.start();
  const kc = kubeConfigFor(url);
  const core = kc.makeApiClient(CoreV1Api);
  const informers: Informer<V1Service>[] = [];
  t.after(async () => {
    // Informers first: stopping the server under a running informer would only make it error.
    for (const informer of informers) await informer.stop();
    await api.stop();
  });
  const serviceInformer = (labelSelector?: string) => {
    // makeInformer passes the selector to the watch only; the list function must pass it itself.
    const list = () => core.listServiceForAllNamespaces(labelSelector === undefined ? {} : { labelSelector });
    const informer = makeInformer(kc, SERVICES, list, labelSelector);
    informers.push(informer);
    return informer;
  };
  return { api, kc, core, serviceInformer };
}

function watchRequests(api: FakeKubeApi, path = SERVICES) {
  return api.requests().filter((r) => r.path === path && r.watch);
}

function listRequests(api: FakeKubeApi, path = SERVICES) {
  return api.requests().filter((r) => r.path === path && r.method === "GET" && !r.watch);
}

void test("list + watch deliver add, update and delete", async (t) => {
  const { api, serviceInformer } = await harness(t);
  const a = api.upsert(service("a"));
  const informer = serviceInformer();
  const rec = new Recorder(informer);
  await informer.start();
  assert.deepEqual(rec.seen, [{ verb: "add", name: "a", rv: a.metadata.resourceVersion }]);

  // The informer listed once, then watched from the list's resourceVersion.
  assert.equal(listRequests(api).length, 1);
  assert.deepEqual(
    watchRequests(api).map((r) => r.query),
    [{ watch: "true", resourceVersion: String(api.resourceVersion) }],
  );

  api.upsert(service("b"));
  await rec.waitFor("add", "b");
  api.upsert(service("a", { changed: "yes" }));
  await rec.waitFor("update", "a");
  api.upsert(service("a", { changed: "yes" })); // identical write: no new version, no event
  const deleted = api.remove("Service", "default", "a");
  await rec.waitFor("delete", "a");

  assert.deepEqual(
    rec.seen.map((s) => `${s.verb} ${s.name}`),
    ["add a", "add b", "update a", "delete a"],
  );
  assert.equal(rec.seen.at(-1)?.rv, deleted.metadata.resourceVersion, "DELETED carries the deletion's RV");
  assert.deepEqual(
    informer.list().map((s) => s.metadata?.name),
    ["b"],
  );
  assert.deepEqual(rec.errors, []);
});

void test("objects get uid, resourceVersion and list/get shapes like the real API", async (t) => {
  const { api, core } = await harness(t);
  const first = api.upsert(service("a"));
  const second = api.upsert(service("a", { x: "1" }));
  assert.equal(second.metadata.uid, first.metadata.uid);
  assert.equal(Number(second.metadata.resourceVersion), Number(first.metadata.resourceVersion) + 1);
  api.upsert({ kind: "Node", metadata: { name: "n1" } });
  api.upsert({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: "a-xyz", namespace: "default", labels: { "kubernetes.io/service-name": "a" } },
  });

  const raw = (await (await fetch(`${api.url}/api/v1/services`)).json()) as Record<string, unknown>;
  assert.equal(raw.kind, "ServiceList");
  assert.equal(raw.apiVersion, "v1");
  assert.deepEqual(raw.metadata, { resourceVersion: String(api.resourceVersion) });
  const items = raw.items as Record<string, unknown>[];
  assert.equal(items.length, 1);
  assert.equal(items[0]?.kind, undefined, "list items carry no kind/apiVersion");

  const one = await core.readNamespacedService({ name: "a", namespace: "default" });
  assert.equal(one.kind, "Service");
  assert.equal(one.metadata?.resourceVersion, second.metadata.resourceVersion);

  const slices = (await (
    await fetch(`${api.url}/apis/discovery.k8s.io/v1/namespaces/default/endpointslices`)
  ).json()) as {
    kind: string;
    items: unknown[];
  };
  assert.equal(slices.kind, "EndpointSliceList");
  assert.equal(slices.items.length, 1);
  const nodes = await core.listNode();
  assert.deepEqual(
    nodes.items.map((n) => n.metadata?.name),
    ["n1"],
  );

  await assert.rejects(core.readNamespacedService({ name: "nope", namespace: "default" }), /404/);
});

void test("label and field selectors filter lists", async (t) => {
  const { api, core } = await harness(t);
  api.upsert(service("web", { app: "web", tier: "front" }));
  api.upsert(service("db", { app: "db", tier: "back" }));
  api.upsert(service("bare"));
  api.upsert(service("other", { app: "web" }, "other-ns"));

  const names = async (query: { labelSelector?: string; fieldSelector?: string }) =>
    (await core.listServiceForAllNamespaces(query)).items.map((s) => s.metadata?.name).sort();

  assert.deepEqual(await names({ labelSelector: "app=web" }), ["other", "web"]);
  assert.deepEqual(await names({ labelSelector: "app==web,tier=front" }), ["web"]);
  assert.deepEqual(await names({ labelSelector: "app!=web" }), ["bare", "db"]); // no label also matches
  assert.deepEqual(await names({ labelSelector: "app" }), ["db", "other", "web"]);
  assert.deepEqual(await names({ labelSelector: "!app" }), ["bare"]);
  assert.deepEqual(await names({ labelSelector: "app in (web, db),tier" }), ["db", "web"]);
  assert.deepEqual(await names({ labelSelector: "app notin (web)" }), ["bare", "db"]);
  assert.deepEqual(await names({ fieldSelector: "metadata.name=db" }), ["db"]);
  assert.deepEqual(await names({ fieldSelector: "metadata.namespace=other-ns" }), ["other"]);
  assert.deepEqual(await names({ fieldSelector: "metadata.namespace!=default,metadata.name=other" }), [
    "other",
  ]);
  const namespaced = await core.listNamespacedService({ namespace: "other-ns" });
  assert.deepEqual(
    namespaced.items.map((s) => s.metadata?.name),
    ["other"],
  );

  await assert.rejects(names({ labelSelector: "app in web" }), /400/);
  await assert.rejects(names({ fieldSelector: "spec.type=LoadBalancer" }), /400/);
});

void test("label selector on list and watch, including objects relabelled in and out", async (t) => {
  const { api, serviceInformer } = await harness(t);
  api.upsert(service("web", { app: "web" }));
  api.upsert(service("db", { app: "db" }));
  const informer = serviceInformer("app in (web)");
  const rec = new Recorder(informer);
  await informer.start();
  assert.deepEqual(rec.names("add"), ["web"]);
  assert.equal(watchRequests(api)[0]?.query.labelSelector, "app in (web)");

  api.upsert(service("web2", { app: "web" }));
  api.upsert(service("db2", { app: "db" }));
  await rec.waitFor("add", "web2");
  // Leaving the selection arrives as DELETED, entering it as ADDED, as from the apiserver.
  api.upsert(service("web", { app: "db" }));
  await rec.waitFor("delete", "web");
  api.upsert(service("db", { app: "web" }));
  await rec.waitFor("add", "db");

  assert.deepEqual(
    rec.seen.map((s) => `${s.verb} ${s.name}`),
    ["add web", "add web2", "delete web", "add db"],
  );
  assert.deepEqual(
    informer
      .list()
      .map((s) => s.metadata?.name)
      .sort(),
    ["db", "web2"],
  );
});

void test("410 after compact: the informer relists and emits delete for what vanished meanwhile", async (t) => {
  const { api, serviceInformer } = await harness(t);
  api.upsert(service("keep"));
  api.upsert(service("gone"));
  const informer = serviceInformer();
  const rec = new Recorder(informer);
  await informer.start();
  const oldRv = String(api.resourceVersion);

  // Synchronously, before the client can re-watch: end the watch, delete while nobody watches, drop history.
  api.closeWatches();
  api.remove("Service", "default", "gone");
  api.compact();

  await rec.waitFor("delete", "gone");
  assert.equal(listRequests(api).length, 2, "relisted");
  const watches = watchRequests(api);
  assert.equal(watches[1]?.query.resourceVersion, oldRv, "re-watched from the old RV first, got 410");
  assert.deepEqual(
    informer.list().map((s) => s.metadata?.name),
    ["keep"],
  );
  assert.deepEqual(rec.errors, [], "410 is not an error");

  // client-node 2.0.1 waits 1 s (its backoff) before watching again after the relist.
  await api.waitForWatchers(SERVICES, 1, 3000);
  assert.equal(watchRequests(api)[2]?.query.resourceVersion, String(api.resourceVersion));
});

void test("raw watch protocol: history replay, 410 ERROR event, watch=1, field selector", async (t) => {
  const { api } = await harness(t);
  const a = api.upsert(service("a"));
  api.upsert(service("b"));
  api.remove("Service", "default", "b");

  const replay = await readWatch(
    `${api.url}${SERVICES}?watch=1&resourceVersion=${a.metadata.resourceVersion}`,
    2,
  );
  assert.deepEqual(
    replay.map((e) => `${e.type} ${e.object.metadata.name} ${e.object.kind}`),
    ["ADDED b Service", "DELETED b Service"],
  );

  const fromScratch = await readWatch(`${api.url}${SERVICES}?watch=true&fieldSelector=metadata.name%3Da`, 1);
  assert.deepEqual(
    fromScratch.map((e) => `${e.type} ${e.object.metadata.name}`),
    ["ADDED a"],
  );

  api.compact();
  const expired = await readWatch(`${api.url}${SERVICES}?watch=true&resourceVersion=1`, 1);
  assert.deepEqual(expired[0], {
    type: "ERROR",
    object: {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      reason: "Expired",
      code: 410,
      message: `too old resource version: 1 (${api.resourceVersion})`,
    },
  });
});

interface RawEvent {
  type: string;
  object: { kind: string; metadata: { name: string } } & Record<string, unknown>;
}

/** Reads `count` NDJSON lines of a watch, then hangs up. */
async function readWatch(url: string, count: number): Promise<RawEvent[]> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  assert.equal(res.status, 200);
  assert.ok(res.body);
  const events: RawEvent[] = [];
  let buffer = "";
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      events.push(JSON.parse(buffer.slice(0, newline)) as RawEvent);
      buffer = buffer.slice(newline + 1);
    }
    if (events.length >= count) break;
  }
  controller.abort();
  return events;
}

void test("expireWatches: an ERROR 410 on an open watch makes the informer relist at once", async (t) => {
  const { api, serviceInformer } = await harness(t);
  api.upsert(service("a"));
  const informer = serviceInformer();
  const rec = new Recorder(informer);
  await informer.start();
  api.expireWatches();
  await until("relist", () => listRequests(api).length === 2);
  await api.waitForWatchers(SERVICES, 1, 500); // no backoff on the first reconnect
  assert.deepEqual(rec.errors, []);
  assert.deepEqual(
    rec.seen.map((s) => `${s.verb} ${s.name}`),
    ["add a"],
    "a relist that finds the same versions emits nothing",
  );
});

void test("a 500 on the watch makes the informer emit error and stop for good", async (t) => {
  const { api, serviceInformer } = await harness(t);
  api.failNext((r) => r.path === SERVICES && r.watch, 500);
  const informer = serviceInformer();
  const rec = new Recorder(informer);
  await informer.start(); // resolves although the watch failed
  await until("error", () => rec.errors.length > 0);
  assert.equal((rec.errors[0] as { statusCode?: number }).statusCode, 500);

  const before = api.requests().length;
  await sleep(300);
  assert.equal(api.requests().length, before, "no retry: restarting the informer is the caller's job");
  assert.equal(api.watcherCount(), 0);
});

void test("resetWatches makes the informer emit error", async (t) => {
  const { api, serviceInformer } = await harness(t);
  const informer = serviceInformer();
  const rec = new Recorder(informer);
  await informer.start();
  api.resetWatches();
  await until("error", () => rec.errors.length > 0);
  await sleep(100);
  assert.equal(watchRequests(api).length, 1, "no re-watch after a reset");
});

void test("closeWatches makes the informer re-watch from its resourceVersion without relisting", async (t) => {
  const { api, serviceInformer } = await harness(t);
  api.upsert(service("a"));
  const informer = serviceInformer();
  const rec = new Recorder(informer);
  await informer.start();

  api.closeWatches();
  await until("re-watch", () => watchRequests(api).length === 2, 800); // first reconnect: no delay
  await api.waitForWatchers(SERVICES);
  assert.equal(watchRequests(api)[1]?.query.resourceVersion, String(api.resourceVersion));
  assert.equal(listRequests(api).length, 1, "no relist");

  // An event received resets client-node's backoff, so the next clean close re-watches at once too.
  api.upsert(service("b"));
  await rec.waitFor("add", "b");
  api.closeWatches();
  await until("second re-watch", () => watchRequests(api).length === 3, 800);
  assert.equal(watchRequests(api)[2]?.query.resourceVersion, String(api.resourceVersion));
  assert.equal(listRequests(api).length, 1);
  assert.equal(rec.connects, 3, "'connect' fires before every (re)watch, not only the first");
  assert.deepEqual(rec.errors, []);
});

void test("pause holds requests and watch events until resume", async (t) => {
  const { api, core, serviceInformer } = await harness(t);
  const informer = serviceInformer();
  const rec = new Recorder(informer);
  await informer.start();

  api.pause();
  api.upsert(service("held"));
  let listed = false;
  const list = core.listServiceForAllNamespaces().then((l) => {
    listed = true;
    return l;
  });
  await sleep(150);
  assert.equal(listed, false, "the list hangs");
  assert.deepEqual(rec.seen, [], "the watch event is held");

  api.resume();
  assert.equal((await list).items.length, 1);
  await rec.waitFor("add", "held");
});

void test("restart keeps the store and the port; a restarted informer resumes from its RV", async (t) => {
  const { api, serviceInformer } = await harness(t);
  const a = api.upsert(service("a"));
  const url = api.url;
  const informer = serviceInformer();
  const rec = new Recorder(informer);
  await informer.start();

  // The watch ends cleanly, client-node re-watches at once and is refused while the port is closed: error.
  await api.restart({ downtimeMs: 300 });
  await until("error", () => rec.errors.length > 0);
  assert.match(String((rec.errors[0] as { cause?: unknown }).cause ?? rec.errors[0]), /ECONNREFUSED/);
  assert.equal(api.url, url);
  assert.deepEqual(api.get("Service", "default", "a"), a);

  // start() after an error keeps the cache and watches from the last RV (no list); history still replays.
  const b = api.upsert(service("b"));
  await informer.start();
  await rec.waitFor("add", "b");
  assert.equal(listRequests(api).length, 1);
  assert.equal(Number(b.metadata.resourceVersion), Number(a.metadata.resourceVersion) + 1);
  assert.deepEqual(
    rec.seen.map((s) => `${s.verb} ${s.name}`),
    ["add a", "add b"],
  );
});

void test("a failed list makes the informer emit error; start() still resolves", async (t) => {
  const { api, serviceInformer } = await harness(t);
  api.failNext(SERVICES, 503);
  const informer = serviceInformer();
  const rec = new Recorder(informer);
  await informer.start();
  assert.equal(rec.errors.length, 1);
  assert.equal(watchRequests(api).length, 0, "no watch after a failed list");
});

void test("history is bounded: a watch from before the oldest kept change gets 410", async (t) => {
  const api = new FakeKubeApi({ historyLimit: 2 });
  await api.start();
  t.after(() => api.stop());
  const watchFrom = (rv: string, count: number) =>
    readWatch(`${api.url}${SERVICES}?watch=true&resourceVersion=${rv}`, count);
  const [a, b] = ["a", "b", "c", "d"].map((name) => api.upsert(service(name)).metadata.resourceVersion);
  // Kept: the changes after b (c and d); the changes after a include b's, which is gone.
  const [expired] = await watchFrom(a ?? "", 1);
  assert.equal(expired?.object.code, 410);
  const replayed = await watchFrom(b ?? "", 2);
  assert.deepEqual(
    replayed.map((e) => e.object.metadata.name),
    ["c", "d"],
  );
});

void test("HTTP writes: create, conflicting replace, status patch, delete", async (t) => {
  const { api, core, serviceInformer } = await harness(t);
  const informer = serviceInformer();
  const rec = new Recorder(informer);
  await informer.start();

  const body: unknown = service("web");
  const created = await core.createNamespacedService({ namespace: "default", body: body as V1Service });
  await rec.waitFor("add", "web");
  await assert.rejects(
    core.createNamespacedService({ namespace: "default", body: body as V1Service }),
    /409/,
  );
  api.upsert(service("web", { bumped: "yes" }));
  await assert.rejects(
    core.replaceNamespacedService({ name: "web", namespace: "default", body: created }),
    /409/,
  );

  await core.patchNamespacedServiceStatus(
    {
      name: "web",
      namespace: "default",
      body: { status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } }, spec: { type: "ClusterIP" } },
    },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
  await until("status update", () => rec.names("update").length === 2);
  const stored = api.get("Service", "default", "web");
  assert.ok(stored);
  assert.deepEqual(stored.status, { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } });
  assert.equal((stored.spec as { type: string }).type, "LoadBalancer", "/status changes only the status");

  await core.deleteNamespacedService({ name: "web", namespace: "default" });
  await rec.waitFor("delete", "web");
  assert.equal(api.get("Service", "default", "web"), undefined);
});

void test("events: core/v1 POST and PATCH, events.k8s.io/v1 POST are recorded", async (t) => {
  const { api, kc, core } = await harness(t);
  // client-node's models are classes (lint rejects plain literals for them); the wire needs only the JSON.
  const involvedObject = { kind: "Service", namespace: "default", name: "a" };
  const coreEvent: unknown = {
    metadata: { name: "a.1", namespace: "default" },
    involvedObject,
    reason: "Announced",
    message: "announced 192.0.2.1",
    type: "Normal",
    count: 1,
  };
  const eventsV1Event: unknown = {
    metadata: { generateName: "a." },
    eventTime: new V1MicroTime(),
    reason: "Withdrawn",
    action: "Withdraw",
    reportingController: "frr-advertiser",
    reportingInstance: "node-1",
    regarding: involvedObject,
    type: "Normal",
  };
  await core.createNamespacedEvent({ namespace: "default", body: coreEvent as CoreV1Event });
  // client-node's default patch type is json-patch; merge patch needs setHeaderOptions.
  await core.patchNamespacedEvent({
    name: "a.1",
    namespace: "default",
    body: [{ op: "replace", path: "/count", value: 2 }],
  });
  await core.patchNamespacedEvent(
    { name: "a.1", namespace: "default", body: { message: "announced again" } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
  await kc
    .makeApiClient(EventsV1Api)
    .createNamespacedEvent({ namespace: "default", body: eventsV1Event as EventsV1Event });

  const recorded = api.events();
  assert.equal(recorded.length, 2);
  const [core1, v1] = recorded as [StoredObject, StoredObject];
  assert.equal(core1.apiVersion, "v1");
  assert.equal(core1.count, 2);
  assert.equal(core1.message, "announced again");
  assert.ok(core1.metadata.uid);
  assert.equal(v1.apiVersion, "events.k8s.io/v1");
  assert.equal(v1.reason, "Withdrawn");
  assert.match(v1.metadata.name, /^a\..{5}$/);
  assert.match(String(v1.eventTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.deepEqual(
    api.requests().map((r) => `${r.method} ${r.path}`),
    [
      "POST /api/v1/namespaces/default/events",
      "PATCH /api/v1/namespaces/default/events/a.1",
      "PATCH /api/v1/namespaces/default/events/a.1",
      "POST /apis/events.k8s.io/v1/namespaces/default/events",
    ],
  );
  await assert.rejects(core.patchNamespacedEvent({ name: "missing", namespace: "default", body: [] }), /404/);
});

void test("writeKubeconfig writes a file client-node (or kubectl) can load", async (t) => {
  const { api } = await harness(t);
  api.upsert({ kind: "Node", metadata: { name: "n1" } });
  const dir = await mkdtemp(join(tmpdir(), "fake-kube-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "kubeconfig");
  await writeKubeconfig(api.url, path);
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const nodes = await kc.makeApiClient(CoreV1Api).listNode();
  assert.deepEqual(
    nodes.items.map((n) => n.metadata?.name),
    ["n1"],
  );
});
