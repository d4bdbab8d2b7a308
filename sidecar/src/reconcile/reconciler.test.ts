// The reconcile loop with fake FRR and address ports: step order, skip-if-unchanged,
// last good config on failure, the two-step first apply, and per-Service re-evaluation.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { systemClock } from "../clock.js";
import { FakeClock } from "../clock.test-helper.js";
import { parseConfig, type Config } from "../config/load-config.js";
import { compileTemplates } from "../render/renderer.js";
import { loadTemplateDir } from "../templates/load-template-dir.js";
import { ClusterStore } from "../kube/cluster-store.js";
import {
  MAX_SETTLE_DEFERRALS,
  RENDER_CHECK_MAX_DELAY_MS,
  SETTLE_MAX_DELAY_MS,
  SETTLE_QUIET_MS,
  Reconciler,
  type AddressSync,
  type FrrApplier,
  type ReconcileReport,
  type WithdrawalHoldEvent,
} from "./reconciler.js";
import type { ApplyOutcome } from "../frr/config-applier.js";
import { routeMapUse, type Placed, type RouteMapChanges, type RouteMapEntry } from "../frr/config-delta.js";
import { toEndpointSliceSnapshot, toNodeSnapshot, toServiceSnapshot } from "../kube/to-snapshot.js";

const templates = compileTemplates(
  await loadTemplateDir(new URL("../../../frr-templates", import.meta.url).pathname),
);

async function config(mode: "network" | "connected" = "network", withdrawGraceMs = 0): Promise<Config> {
  return parseConfig(
    `nodeName: n1
bgp: { asn: 64512, neighbors: [{ address: 192.0.2.1, remoteAs: external }] }
advertise: { mode: ${mode}, interface: ${mode === "network" ? "lo" : "svc0"}, allowedCidrs: [10.96.0.0/12] }
timings: { withdrawGraceMs: ${String(withdrawGraceMs)} }
`,
    "test",
    {},
    () => Promise.reject(new Error("none")),
  );
}

function networkLines(text: string): Set<string> {
  return new Set([...text.matchAll(/^\s*(network \S+.*)$/gm)].map((m) => (m[1] ?? "").trim()));
}

class Recorder implements FrrApplier, AddressSync {
  readonly calls: string[] = [];
  /** Renders made (templates asked for). */
  renders = 0;
  appliedConfig: string | undefined;
  failNext = false;
  running = new Set<string>();
  apply(text: string, full: boolean): Promise<ApplyOutcome> {
    const nets = [...text.matchAll(/^\s*network (\S+)/gm)].map((m) => m[1]).join(",");
    this.calls.push(`frr ${full ? "full" : "delta"} [${nets}]`);
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error("FRR rejected it"));
    }
    const kind =
      text === this.appliedConfig
        ? "unchanged"
        : full || this.appliedConfig === undefined
          ? "reloaded"
          : "delta";
    this.appliedConfig = text;
    this.networks = networkLines(text);
    return Promise.resolve(
      (kind === "delta" ? { kind, commands: 1, withdrawn: [] } : { kind }) as ApplyOutcome,
    );
  }
  /** The statements FRR runs, fast changes included. */
  networks = new Set<string>();
  readonly runningRouteMaps = new Map<string, RouteMapEntry>();
  get runningRouteMapUse(): ReadonlyMap<string, number> {
    return routeMapUse([...this.networks].map((line) => ({ router: "", af: "", line })));
  }
  applyNetworkChanges(
    removed: readonly Placed[],
    added: readonly Placed[],
    routeMaps?: RouteMapChanges,
  ): Promise<void> {
    const show = (ps: readonly Placed[]) => ps.map((p) => p.line.split(" ")[1]).join(",");
    const names = (es: readonly RouteMapEntry[] | undefined) => es?.map((e) => e.name).join(",") ?? "";
    const maps =
      (routeMaps?.added.length ? ` maps+[${names(routeMaps.added)}]` : "") +
      (routeMaps?.removed.length ? ` maps-[${names(routeMaps.removed)}]` : "");
    this.calls.push(`frr fast -[${show(removed)}] +[${show(added)}]${maps}`);
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error("FRR rejected it"));
    }
    for (const p of removed) this.networks.delete(p.line);
    for (const p of added) this.networks.add(p.line);
    for (const e of routeMaps?.added ?? []) this.runningRouteMaps.set(e.header, e);
    for (const e of routeMaps?.removed ?? []) this.runningRouteMaps.delete(e.header);
    return Promise.resolve();
  }
  settle(text: string): Promise<boolean> {
    const lines = networkLines(text);
    const same = lines.size === this.networks.size && [...lines].every((l) => this.networks.has(l));
    this.calls.push(`settle ${same ? "written" : "differs"}`);
    if (same) this.appliedConfig = text;
    return Promise.resolve(same);
  }
  /** False: the applier cannot write its statements without a render. */
  canWriteRunning = true;
  writeRunning(): Promise<boolean> {
    this.calls.push(`write kept${this.canWriteRunning ? "" : " (cannot)"}`);
    return Promise.resolve(this.canWriteRunning);
  }
  sync(desired: ReadonlySet<string>, phase: "add" | "remove"): Promise<void> {
    this.calls.push(`${phase} [${[...desired].sort().join(",")}]`);
    return Promise.resolve();
  }
  /** False: no trusted listing (the reconciler must then run a full sync). */
  trustedListing = true;
  syncChanged(wanted: ReadonlyMap<string, boolean>, phase: "add" | "remove"): Promise<boolean> {
    if (!this.trustedListing) return Promise.resolve(false);
    const entries = [...wanted].map(([a, d]) => `${a}${d ? "+" : "-"}`).sort();
    this.calls.push(`${phase} changed [${entries.join(",")}]`);
    return Promise.resolve(true);
  }
}

function setup(
  cfg: Config,
  synced = true,
  report: (r: ReconcileReport) => void = () => undefined,
  fakeClock?: FakeClock,
) {
  const store = new ClusterStore();
  const rec = new Recorder();
  // The loop's clock: Date.now (mocked where a test mocks timers) plus the pauses a test makes.
  let paused = 0;
  const reconciler = new Reconciler({
    store,
    config: cfg,
    templates: () => {
      rec.renders++;
      return templates;
    },
    applier: rec,
    addresses: rec,
    isSynced: () => synced,
    runningNetworks: () => Promise.resolve(rec.running),
    report,
    clock: fakeClock ?? { ...systemClock, now: () => Date.now() + paused },
  });
  store.setNode(toNodeSnapshot({ kind: "Node", metadata: { name: "n1" } }));
  /** Fast passes paused: the next settle pass renders and checks the render against FRR. */
  const pause = (): void => {
    paused += SETTLE_QUIET_MS;
  };
  return { store, rec, reconciler, pause };
}

/** Lets timer-started passes run to their end (the settle pass yields to the event loop once). */
async function settleLoop(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 50; j++) await Promise.resolve();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function addService(
  store: ClusterStore,
  name: string,
  ip: string,
  ready = true,
  annotations: Record<string, string> = {},
): void {
  store.upsertService(
    toServiceSnapshot({
      kind: "Service",
      metadata: { name, namespace: "d", annotations },
      spec: { clusterIP: ip },
    }),
  );
  store.upsertSlice(
    toEndpointSliceSnapshot({
      kind: "EndpointSlice",
      metadata: { name: `${name}-1`, namespace: "d", labels: { "kubernetes.io/service-name": name } },
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.244.0.1"], conditions: { ready }, nodeName: "n2" }],
    }),
  );
}

void test("nothing is applied before the informers have synced", async () => {
  const { rec, reconciler } = setup(await config(), false);
  const r = await reconciler.reconcileOnce();
  assert.equal(r.outcome, "waiting");
  assert.deepEqual(rec.calls, []);
});

void test("network mode: addresses added, then FRR, then addresses removed", async () => {
  const { store, rec, reconciler } = setup(await config());
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  // First apply: FRR runs nothing yet → reload without prefixes, then the rest as a delta; the
  // addresses follow the announcement at start (ADR 0010), precede it afterwards.
  assert.deepEqual(rec.calls, [
    "frr full []",
    "frr delta [10.96.0.10/32]",
    "add [10.96.0.10]",
    "remove [10.96.0.10]",
  ]);
  rec.calls.length = 0;
  addService(store, "a", "10.96.0.10", false);
  await reconciler.reconcileOnce();
  // A prefix change: statements shaped like the last render's, no render of every prefix; the
  // address steps look at the changed address only.
  assert.deepEqual(rec.calls, [
    "add changed [10.96.0.10-]",
    "frr fast -[10.96.0.10/32] +[]",
    "remove changed [10.96.0.10-]",
  ]);
  // Without a listing to trust, the same steps take the whole set.
  rec.calls.length = 0;
  rec.trustedListing = false;
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  assert.deepEqual(
    rec.calls,
    ["add [10.96.0.10]", "frr fast -[] +[10.96.0.10/32]"],
    "nothing withdrawn: no remove step",
  );
  await reconciler.stop();
});

void test("fast path: a settle pass renders once, writes what FRR runs, and reports the state", async () => {
  const reports: ReconcileReport[] = [];
  const { store, rec, reconciler, pause } = setup(await config(), true, (r) => reports.push(r));
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  addService(store, "b", "10.96.0.11");
  const fast = await reconciler.reconcileOnce();
  assert.equal(fast.outcome, "applied");
  assert.equal(fast.state, undefined, "a fast pass reports no state: the settle pass does");
  assert.equal(fast.prefixChanges, 1);
  assert.match(rec.appliedConfig ?? "", /network 10\.96\.0\.10\/32/);
  assert.doesNotMatch(rec.appliedConfig ?? "", /10\.96\.0\.11/, "frr.conf not yet rewritten");
  // The desired state is there on demand (read-back, drain) before the settle pass.
  assert.deepEqual(
    reconciler.desiredState?.prefixes.map((p) => p.prefix),
    ["10.96.0.10/32", "10.96.0.11/32"],
  );
  // The read-back's list: the same addresses, kept by the fast pass without building the state.
  assert.deepEqual([...reconciler.announcedAddresses].sort(), ["10.96.0.10", "10.96.0.11"]);
  pause();
  reconciler.requestSettle();
  const settled = await reconciler.reconcileOnce();
  assert.equal(settled.outcome, "unchanged");
  assert.deepEqual(
    settled.state?.prefixes.map((p) => p.prefix),
    ["10.96.0.10/32", "10.96.0.11/32"],
  );
  assert.deepEqual(rec.calls.slice(-1), ["settle written"]);
  assert.match(rec.appliedConfig ?? "", /network 10\.96\.0\.11\/32/);
  await reconciler.stop();
});

void test("fast path: a new attribute set goes with its route-map, rendered alone; the Node takes the full path", async () => {
  const { store, rec, reconciler, pause } = setup(await config());
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  // Communities the last render had no route-map for: the set's route-map entry, named as the
  // full render names it, goes in the same batch as the statement that uses it.
  addService(store, "c", "10.96.0.12", true, { "frr-advertiser.io/communities": "65000:7" });
  await reconciler.reconcileOnce();
  const setName = reconciler.desiredState?.attributeSets[0]?.name ?? "";
  assert.match(setName, /^FRRADV-A-[0-9a-f]{16}$/);
  assert.deepEqual(
    rec.calls.filter((c) => c.startsWith("frr")),
    [`frr fast -[] +[10.96.0.12/32] maps+[${setName}]`],
  );
  const entry = [...rec.runningRouteMaps.values()][0];
  assert.deepEqual(entry?.body, ["set community 65000:7 additive"]);
  assert.ok(rec.networks.has(`network 10.96.0.12/32 route-map ${setName}`), [...rec.networks].join("\n"));
  rec.calls.length = 0;
  // Now that set runs: a second Service with the same communities adds only its statement.
  addService(store, "d", "10.96.0.13", true, { "frr-advertiser.io/communities": "65000:7" });
  await reconciler.reconcileOnce();
  assert.ok(
    rec.calls.some((c) => c === "frr fast -[] +[10.96.0.13/32]"),
    rec.calls.join("\n"),
  );
  // The settle render holds exactly what the fast passes sent.
  pause();
  reconciler.requestSettle();
  await reconciler.reconcileOnce();
  assert.equal(rec.calls.at(-1), "settle written");
  rec.calls.length = 0;
  // The set's last statement goes: its route-map goes after it, in the same pass, so the
  // settle pass only writes the file (it used to reload the route-map's removal).
  store.deleteService("d", "d");
  await reconciler.reconcileOnce();
  store.deleteService("d", "c");
  await reconciler.reconcileOnce();
  assert.deepEqual(
    rec.calls.filter((c) => c.startsWith("frr")),
    ["frr fast -[10.96.0.13/32] +[]", `frr fast -[10.96.0.12/32] +[] maps-[${setName}]`],
  );
  assert.equal(rec.runningRouteMaps.size, 0);
  pause();
  reconciler.requestSettle();
  await reconciler.reconcileOnce();
  assert.equal(rec.calls.at(-1), "settle written");
  // FRR no longer runs the set: the next Service with it brings the route-map again.
  rec.calls.length = 0;
  addService(store, "e", "10.96.0.14", true, { "frr-advertiser.io/communities": "65000:7" });
  await reconciler.reconcileOnce();
  assert.deepEqual(
    rec.calls.filter((c) => c.startsWith("frr")),
    [`frr fast -[] +[10.96.0.14/32] maps+[${setName}]`],
  );
  rec.calls.length = 0;
  store.setNode(toNodeSnapshot({ metadata: { name: "n1", labels: { zone: "b" } } }));
  await reconciler.reconcileOnce();
  assert.ok(!rec.calls.some((c) => c.startsWith("frr fast")), "a Node change re-renders");
  await reconciler.stop();
});

void test("fast path failures: a rejected batch is retried as a full reload; a settle that differs is applied from FRR's state", async () => {
  const { store, rec, reconciler, pause } = setup(await config());
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  rec.failNext = true;
  addService(store, "b", "10.96.0.11");
  const failed = await reconciler.reconcileOnce();
  assert.equal(failed.outcome, "failed");
  assert.equal(failed.stage, "frr");
  await reconciler.reconcileOnce();
  assert.deepEqual(
    rec.calls.filter((c) => c.startsWith("frr")),
    ["frr fast -[] +[10.96.0.11/32]", "frr full [10.96.0.10/32,10.96.0.11/32]"],
  );
  rec.calls.length = 0;
  addService(store, "c", "10.96.0.12");
  await reconciler.reconcileOnce();
  rec.networks.delete("network 10.96.0.12/32"); // FRR lost it: what it runs is not the render
  pause();
  reconciler.requestSettle();
  await reconciler.reconcileOnce();
  assert.deepEqual(
    rec.calls.filter((c) => c.startsWith("frr") || c.startsWith("settle")),
    [
      "frr fast -[] +[10.96.0.12/32]",
      "settle differs",
      // The applier diffs the render against what FRR runs: a delta where it can, else a reload.
      "frr delta [10.96.0.10/32,10.96.0.11/32,10.96.0.12/32]",
    ],
  );
  await reconciler.stop();
});

void test("connected mode: withdrawals first, FRR, then new addresses last", async () => {
  const { store, rec, reconciler } = setup(await config("connected"));
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  assert.deepEqual(rec.calls, ["remove [10.96.0.10]", "frr full []", "add [10.96.0.10]"]);
});

void test("connected mode: a plain Service going unready changes no render, only the addresses", async () => {
  const { store, rec, reconciler } = setup(await config("connected"));
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  addService(store, "a", "10.96.0.10", false);
  await reconciler.reconcileOnce();
  // The address is the announcement: it goes, although frr.conf stays the same.
  assert.deepEqual(rec.calls, ["remove []", "frr delta []", "add []"]);
});

void test("an unchanged cluster costs no FRR and no address call, even on a resync", async () => {
  const { store, rec, reconciler } = setup(await config());
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  assert.equal((await reconciler.reconcileOnce()).outcome, "unchanged");
  // A service that changes nothing in the render (not ready → not ready) also skips FRR.
  addService(store, "b", "10.96.0.20", false);
  assert.equal((await reconciler.reconcileOnce()).outcome, "unchanged");
  assert.deepEqual(rec.calls, []);
});

void test("a failed apply keeps the last good config and is retried until it succeeds", async () => {
  const { store, rec, reconciler } = setup(await config());
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  const good = rec.appliedConfig;
  rec.failNext = true;
  addService(store, "b", "10.96.0.20");
  const failed = await reconciler.reconcileOnce();
  assert.equal(failed.outcome, "failed");
  assert.equal(failed.stage, "frr");
  assert.equal(rec.appliedConfig, good);
  assert.equal(reconciler.healthy, false);
  // Nothing changed in the cluster, but the failure alone makes the next pass retry.
  const retried = await reconciler.reconcileOnce();
  assert.equal(retried.outcome, "applied");
  assert.match(rec.appliedConfig ?? "", /network 10\.96\.0\.20\/32/);
  assert.equal(reconciler.healthy, true);
  await reconciler.stop();
});

void test("the first apply keeps what FRR already runs in the reload (no withdrawal after a restart)", async () => {
  const { store, rec, reconciler } = setup(await config());
  rec.running = new Set(["10.96.0.10/32"]);
  addService(store, "a", "10.96.0.10");
  addService(store, "b", "10.96.0.20");
  await reconciler.reconcileOnce();
  assert.deepEqual(rec.calls, [
    "frr full [10.96.0.10/32]", // what FRR runs: nothing withdrawn
    "frr delta [10.96.0.10/32,10.96.0.20/32]",
    "add [10.96.0.10,10.96.0.20]",
    "remove [10.96.0.10,10.96.0.20]",
  ]);
});

void test("the first apply when FRR already runs every prefix: one full reload, then the addresses", async () => {
  const { store, rec, reconciler } = setup(await config());
  rec.running = new Set(["10.96.0.10/32"]);
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  assert.deepEqual(rec.calls, ["frr full [10.96.0.10/32]", "add [10.96.0.10]", "remove [10.96.0.10]"]);
});

void test("a template change forces a full apply even though the cluster did not change", async () => {
  const { store, rec, reconciler } = setup(await config());
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  reconciler.templatesChanged();
  await reconciler.stop();
  await reconciler.reconcileOnce();
  assert.ok(rec.calls.includes("frr full [10.96.0.10/32]"), rec.calls.join(" | "));
});

void test("batching: an isolated event runs at once; events within the window of a pass wait for it", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const cfg = await parseConfig(
    `nodeName: n1
bgp: { asn: 64512, neighbors: [{ address: 192.0.2.1, remoteAs: external }] }
advertise: { mode: network, interface: lo, allowedCidrs: [10.96.0.0/12] }
timings: { withdrawGraceMs: 0, batchWindowMs: 10000 }
`,
    "test",
    {},
    () => Promise.reject(new Error("none")),
  );
  const passes: string[] = [];
  const { store, rec, reconciler } = setup(cfg, true, (r) => passes.push(r.outcome));
  const settle = async () => {
    for (let i = 0; i < 50; i++) await Promise.resolve();
  };
  t.mock.timers.tick(120_000); // long quiet period before the first event

  addService(store, "a", "10.96.0.10");
  reconciler.schedule();
  t.mock.timers.tick(0); // leading edge: no window to wait
  await settle();
  assert.deepEqual(passes, ["applied"]);

  // A burst right after that pass: coalesced into one pass, one window after the last one ended.
  addService(store, "b", "10.96.0.20");
  reconciler.schedule();
  addService(store, "c", "10.96.0.30");
  reconciler.schedule();
  t.mock.timers.tick(9_000);
  await settle();
  assert.deepEqual(passes, ["applied"], "still inside the window");
  t.mock.timers.tick(1_000);
  await settle();
  assert.deepEqual(passes, ["applied", "applied"]);
  assert.equal(
    rec.calls.filter((c) => c.startsWith("frr")).at(-1),
    "frr fast -[] +[10.96.0.20/32,10.96.0.30/32]",
  );
  await reconciler.stop();
});

void test("stop() during a pass: the pass ends after its current step (the drain starts from there)", async () => {
  const reports: ReconcileReport[] = [];
  const { store, rec, reconciler } = setup(await config(), true, (r) => reports.push(r));
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  addService(store, "b", "10.96.0.11");
  let release: () => void = () => undefined;
  rec.trustedListing = false; // the address step goes through sync(), held below
  const inFlight = new Promise<void>((started) => {
    rec.sync = (desired, phase) => {
      rec.calls.push(`${phase} [${[...desired].sort().join(",")}]`);
      started();
      // The address batch is in flight when the signal comes.
      return new Promise<void>((r) => {
        release = r;
      });
    };
  });
  reconciler.schedule(0);
  await inFlight;
  const stopped = reconciler.stop();
  release();
  await stopped;
  assert.deepEqual(
    reports.map((r) => r.outcome),
    ["stopped"],
  );
  assert.deepEqual(rec.calls, ["add [10.96.0.10,10.96.0.11]"], "no FRR step after the signal");
});

void test("a template change during a pass gets a full apply of its own (not cleared by the pass in flight)", async () => {
  const reports: ReconcileReport[] = [];
  const { store, rec, reconciler } = setup(await config(), true, (r) => reports.push(r));
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  let release: () => void = () => undefined;
  const original = rec.applyNetworkChanges.bind(rec);
  const inFlight = new Promise<void>((started) => {
    rec.applyNetworkChanges = (removed, added) => {
      started();
      rec.applyNetworkChanges = original;
      return new Promise((r) => {
        release = () => {
          r(original(removed, added));
        };
      });
    };
  });
  addService(store, "b", "10.96.0.11");
  reconciler.schedule(0);
  await inFlight;
  reconciler.templatesChanged(); // arrives while the delta for b is being applied
  release();
  for (let i = 0; i < 50 && reports.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  await reconciler.stop();
  assert.deepEqual(
    rec.calls.filter((c) => c.startsWith("frr")),
    ["frr fast -[] +[10.96.0.11/32]", "frr full [10.96.0.10/32,10.96.0.11/32]"],
  );
});

void test("the model's neighbour choice reaches the render: a neighbour of other nodes is left out", async () => {
  const cfg = await parseConfig(
    `nodeName: n1
bgp:
  asn: 64512
  neighbors:
    - { address: 192.0.2.1, remoteAs: external }
    - { address: 192.0.2.7, remoteAs: external, nodes: [n7] }
    - { address: 192.0.2.8, remoteAs: external, nodeSelector: "rack=r8" }
advertise: { mode: network, interface: lo, allowedCidrs: [10.96.0.0/12] }
`,
    "test",
    {},
    () => Promise.reject(new Error("none")),
  );
  const { store, rec, reconciler } = setup(cfg);
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  const peers = (text: string | undefined) =>
    [...(text ?? "").matchAll(/^ neighbor (\S+) remote-as/gm)].map((m) => m[1]);
  assert.deepEqual(peers(rec.appliedConfig), ["192.0.2.1"]);
  // The Node gets the rack label: its neighbour joins.
  store.setNode(toNodeSnapshot({ kind: "Node", metadata: { name: "n1", labels: { rack: "r8" } } }));
  await reconciler.reconcileOnce();
  assert.deepEqual(peers(rec.appliedConfig), ["192.0.2.1", "192.0.2.8"]);
});

void test("network mode: a withdrawn address goes after the grace period in a pass of its own (no render, no FRR)", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const cfg = await config("network", 1000);
  const { store, rec, reconciler } = setup(cfg);
  addService(store, "a", "10.96.0.10");
  addService(store, "b", "10.96.0.11");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  addService(store, "b", "10.96.0.11", false);
  await reconciler.reconcileOnce();
  // The withdrawn address is still wanted on the interface (its grace period).
  assert.deepEqual(rec.calls, [
    "add changed [10.96.0.11-]",
    "frr fast -[10.96.0.11/32] +[]",
    "remove changed [10.96.0.11+]",
  ]);
  rec.calls.length = 0;
  // The grace timer and the settle timer both ask for a pass now; the batching window spaces them.
  for (let i = 0; i < 4; i++) {
    t.mock.timers.tick(1005);
    await settleLoop();
  }
  assert.deepEqual(rec.calls.sort(), ["remove changed [10.96.0.11-]", "settle written"]);
  await reconciler.stop();
});

void test("a pass while fast changes wait for the settle pass reports no whole state: the last one is out of date", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const cfg = await config("network", 1000);
  const reports: ReconcileReport[] = [];
  const { store, rec, reconciler } = setup(cfg, true, (r) => reports.push(r));
  const passes = async (ms: number): Promise<void> => {
    t.mock.timers.tick(ms);
    await settleLoop();
  };
  addService(store, "a", "10.96.0.10");
  addService(store, "b", "10.96.0.11");
  await reconciler.reconcileOnce();
  reports.length = 0;
  rec.calls.length = 0;
  addService(store, "b", "10.96.0.11", false);
  await reconciler.reconcileOnce();
  await passes(600);
  addService(store, "c", "10.96.0.12");
  await reconciler.reconcileOnce();
  // b's grace period ends at 1000 ms; the settle pass waits for 1000 ms without changes (1600).
  await passes(500);
  assert.ok(rec.calls.includes("remove changed [10.96.0.11-]"), rec.calls.join("; "));
  assert.deepEqual(
    reports.filter((r) => r.state !== undefined).map((r) => r.outcome),
    [],
    "the grace pass must not report the state from before b's withdrawal (Events would flip b back)",
  );
  await passes(1100);
  const states = reports.filter((r) => r.state !== undefined);
  assert.deepEqual(
    states.map((r) => r.state?.prefixes.map((p) => p.prefix)),
    [["10.96.0.10/32", "10.96.0.12/32"]],
  );
  await reconciler.stop();
});

void test("a settle pass gives way to a change that arrives during it, at most MAX_SETTLE_DEFERRALS times in a row", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const reports: ReconcileReport[] = [];
  const { store, rec, reconciler } = setup(await config(), true, (r) => reports.push(r));
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  addService(store, "b", "10.96.0.11");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  reports.length = 0;
  for (let i = 0; i <= MAX_SETTLE_DEFERRALS; i++) {
    reconciler.requestSettle();
    t.mock.timers.tick(100); // the settle pass starts; it stops at its first yield to the loop
    addService(store, "c", `10.96.1.${String(i)}`);
    reconciler.schedule(); // as the watch does when the Service changes
    await settleLoop();
    t.mock.timers.tick(100); // the change's pass, after the batching window
    await settleLoop();
  }
  // Under churn the settle pass writes what FRR runs without a render (see the next tests).
  assert.deepEqual(
    rec.calls.filter((c) => c.startsWith("frr fast") || c === "write kept"),
    [
      "frr fast -[] +[10.96.1.0/32]",
      "frr fast -[10.96.1.0/32] +[10.96.1.1/32]",
      "frr fast -[10.96.1.1/32] +[10.96.1.2/32]",
      "write kept",
      "frr fast -[10.96.1.2/32] +[10.96.1.3/32]",
    ],
  );
  // A settle pass that gave way reports no state: the one that settles does.
  assert.deepEqual(
    reports.filter((r) => r.state !== undefined).map((r) => r.state?.prefixes.length),
    [3],
  );
  await reconciler.stop();
});

void test("a change that waited for a settle pass runs right after it: the batching window counts from the last pass that applied", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const { store, rec, reconciler } = setup(await config());
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  addService(store, "b", "10.96.0.11");
  reconciler.schedule();
  await settleLoop();
  t.mock.timers.tick(1000); // b's fast pass (mocked time: it ends at 1000)
  await settleLoop();
  t.mock.timers.tick(100); // past the 50 ms window since then, before the settle timer (2000)
  await settleLoop();
  const fast = () => rec.calls.filter((c) => c.startsWith("frr fast"));
  const before = fast().length;
  // A settle pass starts (its timer), and a change arrives while it runs: it gives way to it.
  reconciler.requestSettle();
  t.mock.timers.tick(1);
  addService(store, "c", "10.96.0.12");
  reconciler.schedule();
  await settleLoop();
  t.mock.timers.tick(1); // no window after a settle pass that gave way (timers fire after ≥ 1 ms)
  await settleLoop();
  assert.deepEqual(fast().slice(before), ["frr fast -[] +[10.96.0.12/32]"], rec.calls.join("; "));
  // A settle pass that wrote frr.conf (after the window since c's pass): the same.
  reconciler.requestSettle();
  t.mock.timers.tick(50);
  await settleLoop();
  assert.ok(rec.calls.includes("write kept"), rec.calls.join("; "));
  addService(store, "d", "10.96.0.13");
  reconciler.schedule();
  t.mock.timers.tick(1);
  await settleLoop();
  assert.deepEqual(fast().slice(before), ["frr fast -[] +[10.96.0.12/32]", "frr fast -[] +[10.96.0.13/32]"]);
  // After a pass that applied, the window holds: the next change waits 50 ms.
  addService(store, "e", "10.96.0.14");
  reconciler.schedule();
  t.mock.timers.tick(1);
  await settleLoop();
  assert.equal(fast().length, before + 2, "within the window");
  t.mock.timers.tick(49);
  await settleLoop();
  assert.equal(fast().length, before + 3);
  await reconciler.stop();
});

/** A Service changes, the watch schedules, and its fast pass runs after the batching window (mocked timers). */
async function changeAndPass(
  t: TestContext,
  store: ClusterStore,
  reconciler: Reconciler,
  name: string,
  ip: string,
): Promise<void> {
  addService(store, name, ip);
  reconciler.schedule(); // as the watch does when the Service changes
  await settleLoop();
  t.mock.timers.tick(100); // the batching window
  await settleLoop();
}

void test("the loop's timers are the injected clock's: the batching window, the settle pass, none left after stop()", async () => {
  const cfg = await config();
  const clock = new FakeClock(1_000_000);
  const { store, rec, reconciler } = setup(cfg, true, undefined, clock);
  const written = () => rec.calls.filter((c) => c === "settle written" || c === "write kept").length;
  /** Moves the clock `ms` on; then FRR got a change of `kind`. */
  const appliedAfter = async (ms: number, kind: "full" | "fast") => {
    await clock.advance(ms);
    await settleLoop();
    assert.ok(
      rec.calls.some((c) => c.startsWith(`frr ${kind}`)),
      rec.calls.join("; "),
    );
  };
  addService(store, "a", "10.96.0.10");
  reconciler.schedule();
  await settleLoop();
  assert.equal(rec.calls.length, 0, "a pass waits for the clock, even with no delay");
  await appliedAfter(0, "full");
  rec.calls.length = 0;
  addService(store, "b", "10.96.0.11");
  reconciler.schedule();
  await clock.advance(cfg.timings.batchWindowMs - 1);
  await settleLoop();
  assert.equal(rec.calls.length, 0, "within the batching window of the last pass");
  await appliedAfter(1, "fast");
  await clock.advance(SETTLE_QUIET_MS - 10);
  await settleLoop();
  assert.equal(written(), 0, "no settle pass before the clock says a second of quiet");
  await clock.advance(10);
  await settleLoop();
  assert.equal(written(), 1, "the settle pass on the clock's second of quiet");
  addService(store, "c", "10.96.0.12");
  reconciler.schedule();
  await reconciler.stop();
  assert.equal(clock.pending, 0, "stop() cancels the loop's timers");
});

void test("the grace period's wake-up and a failed pass's retry are one timer each, and stop() cancels them", async () => {
  const clock = new FakeClock(1_000_000);
  const cfg = await config("network", 1000);
  const { store, rec, reconciler } = setup(cfg, true, undefined, clock);
  const pass = async (): Promise<void> => {
    await reconciler.reconcileOnce();
    await settleLoop();
  };
  for (let i = 0; i < 4; i++) addService(store, `s${String(i)}`, `10.96.0.${String(10 + i)}`);
  addService(store, "kept", "10.96.0.20");
  await pass();
  await clock.advance(5_000);
  await settleLoop();
  const quiet = clock.pending;
  // Four withdrawals 100 ms apart: each pass re-arms the wake-up for the earliest grace end.
  for (let i = 0; i < 4; i++) {
    addService(store, `s${String(i)}`, `10.96.0.${String(10 + i)}`, false);
    await pass();
    await clock.advance(100);
  }
  rec.calls.length = 0;
  await clock.advance(cfg.timings.withdrawGraceMs - 400 + 5);
  await settleLoop();
  assert.ok(
    rec.calls.includes("remove changed [10.96.0.10-]"),
    `the first grace period ended: ${rec.calls.join("; ")}`,
  );
  await clock.advance(400);
  await settleLoop();
  assert.ok(
    rec.calls.includes("remove changed [10.96.0.13-]"),
    `the last grace period ended: ${rec.calls.join("; ")}`,
  );
  await clock.advance(5_000);
  await settleLoop();
  assert.equal(clock.pending, quiet, "no wake-up left once every grace period ended");
  // Failures in a row: each re-arms the one retry (backoff), none piles up.
  rec.failNext = true;
  addService(store, "s0", "10.96.0.10");
  await pass();
  const afterOne = clock.pending;
  assert.ok(afterOne > quiet, "a retry armed");
  rec.failNext = true;
  await pass();
  assert.equal(clock.pending, afterOne, "the second failure re-armed the retry");
  // A withdrawal (its grace wake-up) while the retry is still armed: stop() leaves neither.
  addService(store, "kept", "10.96.0.20", false);
  await pass();
  assert.ok(clock.pending > afterOne, `a wake-up besides the retry (${String(clock.pending)} timers)`);
  await reconciler.stop();
  assert.equal(clock.pending, 0, "stop() cancels the retry and the grace wake-up");
});

void test("settle timing: after a second of quiet, and under steady churn at the latest SETTLE_MAX_DELAY_MS after the first fast pass", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const { store, rec, reconciler } = setup(await config(), true);
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  const fastPass = (name: string, ip: string) => changeAndPass(t, store, reconciler, name, ip);
  const written = (c: string) => c === "settle written" || c === "write kept";
  const settled = () => rec.calls.filter(written).length;
  rec.calls.length = 0;
  await fastPass("b", "10.96.0.11");
  t.mock.timers.tick(SETTLE_QUIET_MS - 200);
  await settleLoop();
  assert.equal(settled(), 0, "not before a second of quiet");
  t.mock.timers.tick(200);
  await settleLoop();
  assert.equal(settled(), 1, "after a second of quiet");
  // A change every 400 ms is never quiet for a second: the settle pass comes by the deadline.
  rec.calls.length = 0;
  const at: number[] = [];
  for (let i = 0; i < 16; i++) {
    await fastPass(`c${String(i)}`, `10.96.2.${String(i)}`);
    t.mock.timers.tick(300);
    await settleLoop();
    if (settled() > at.length) at.push((i + 1) * 400);
  }
  assert.ok(at.length >= 1, "a settle pass under churn");
  assert.ok((at[0] ?? 0) <= SETTLE_MAX_DELAY_MS + 400, `first settle at ${String(at[0])} ms`);
  assert.ok(
    (at[0] ?? 0) >= SETTLE_MAX_DELAY_MS - 400,
    `first settle at ${String(at[0])} ms: not before its deadline`,
  );
  // Those wrote what FRR runs without a render; the render check comes once the churn pauses.
  assert.deepEqual(
    rec.calls.filter(written),
    at.map(() => "write kept"),
  );
  const renders = rec.renders;
  t.mock.timers.tick(SETTLE_QUIET_MS);
  await settleLoop();
  assert.equal(rec.calls.filter(written).at(-1), "settle written");
  assert.equal(rec.renders, renders + 1, "one render");
  await reconciler.stop();
});

void test("under churn a settle pass renders no more than once a RENDER_CHECK_MAX_DELAY_MS", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const { store, rec, reconciler } = setup(await config(), true);
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  const renders = rec.renders;
  // A change every 400 ms for a bit more than the longest a render check waits.
  const changes = Math.ceil(RENDER_CHECK_MAX_DELAY_MS / 400) + Math.ceil(SETTLE_MAX_DELAY_MS / 400) + 1;
  for (let i = 0; i < changes; i++) {
    const ip = `10.96.${String(Math.floor(i / 200))}.${String(20 + (i % 200))}`;
    await changeAndPass(t, store, reconciler, `c${String(i)}`, ip);
    t.mock.timers.tick(300);
    await settleLoop();
  }
  const kinds = rec.calls.filter((c) => c === "settle written" || c === "write kept");
  assert.equal(kinds.filter((c) => c === "settle written").length, 1, kinds.join(", "));
  assert.ok(
    kinds.filter((c) => c === "write kept").length >= RENDER_CHECK_MAX_DELAY_MS / SETTLE_MAX_DELAY_MS - 1,
    kinds.join(", "),
  );
  assert.equal(rec.calls.filter((c) => c.startsWith("frr") && !c.startsWith("frr fast")).length, 0);
  // The fast passes render nothing: the one render is the check's.
  assert.equal(rec.renders, renders + 1);
  await reconciler.stop();
});

void test("a settle pass renders when the applier cannot write its statements without a render", async () => {
  const { store, rec, reconciler } = setup(await config());
  addService(store, "a", "10.96.0.10");
  await reconciler.reconcileOnce();
  addService(store, "b", "10.96.0.11");
  await reconciler.reconcileOnce();
  rec.calls.length = 0;
  rec.canWriteRunning = false;
  reconciler.requestSettle();
  await reconciler.reconcileOnce();
  assert.deepEqual(rec.calls, ["write kept (cannot)", "settle written"]);
  await reconciler.stop();
});

/** Twenty advertised Services, as the breaker tests start. */
async function twentyAdvertised(report?: (r: ReconcileReport) => void) {
  const events: WithdrawalHoldEvent[] = [];
  let now = 1_000_000;
  const cfg = await config();
  const store = new ClusterStore();
  const rec = new Recorder();
  const reconciler = new Reconciler({
    store,
    config: cfg,
    templates: () => templates,
    applier: rec,
    addresses: rec,
    isSynced: () => true,
    runningNetworks: () => Promise.resolve(rec.running),
    report: report ?? (() => undefined),
    onWithdrawalHold: (e) => events.push(e),
    clock: { ...systemClock, now: () => now },
  });
  store.setNode(toNodeSnapshot({ kind: "Node", metadata: { name: "n1" } }));
  for (let i = 10; i < 30; i++) addService(store, `s${i}`, `10.96.0.${i}`);
  await reconciler.reconcileOnce();
  assert.equal(rec.networks.size, 20);
  return { store, rec, reconciler, events, advance: (ms: number) => (now += ms) };
}

const breakerCases: { name: string; act: (store: ClusterStore) => void }[] = [
  {
    name: "an empty relist (every Service gone at once)",
    act: (store) => {
      store.retainServices(new Set());
    },
  },
  {
    name: "90 % of the Services deleted",
    act: (store) => {
      for (let i = 10; i < 28; i++) store.deleteService("d", `s${i}`);
    },
  },
  {
    name: "the Node object deleted",
    act: (store) => {
      store.setNode(undefined);
    },
  },
];

for (const c of breakerCases) {
  void test(`breaker: ${c.name} → held, told, released after the hold time if it persists`, async () => {
    const { store, rec, reconciler, events, advance } = await twentyAdvertised();
    c.act(store);
    const held = await reconciler.reconcileOnce();
    assert.equal(rec.networks.size, 20, "nothing withdrawn while held");
    assert.ok(held.state?.withdrawalHold, "the reported state says so");
    assert.deepEqual(
      events.map((e) => e.kind),
      ["held"],
    );
    // Still the same shortly after (another pass): still held, no second "held".
    advance(60_000);
    addService(store, "late", "10.96.0.99");
    await reconciler.reconcileOnce();
    assert.ok(
      rec.networks.has("network 10.96.0.99/32") || c.name.includes("Node"),
      "unrelated changes still apply",
    );
    assert.equal(events.length, 1);
    // The hold time ran out: the withdrawals are applied.
    advance(61_000);
    reconciler.requestSettle();
    const released = await reconciler.reconcileOnce();
    assert.equal(released.state?.withdrawalHold, undefined);
    const left = [...rec.networks];
    assert.ok(left.length <= 3, left.join(","));
    assert.deepEqual(
      events.map((e) => e.kind),
      ["held", "released"],
    );
    await reconciler.stop();
  });
}

void test("breaker: the state recovers during the hold → nothing is withdrawn, the hold clears", async () => {
  const { store, rec, reconciler, events } = await twentyAdvertised();
  const saved = [...store.serviceKeys()].map((k) => store.service(k)!);
  store.retainServices(new Set());
  await reconciler.reconcileOnce();
  for (const s of saved) store.upsertService(s);
  await reconciler.reconcileOnce();
  assert.equal(rec.networks.size, 20);
  assert.deepEqual(
    events.map((e) => e.kind),
    ["held", "cleared"],
  );
  await reconciler.stop();
});

void test("breaker: never holds health withdrawals or a drain of this node (which drains gracefully)", async () => {
  const { store, rec, reconciler, events, advance } = await twentyAdvertised();
  for (let i = 10; i < 30; i++) addService(store, `s${i}`, `10.96.0.${i}`, false);
  await reconciler.reconcileOnce();
  assert.equal(rec.networks.size, 0, "unready endpoints withdraw at once");
  for (let i = 10; i < 30; i++) addService(store, `s${i}`, `10.96.0.${i}`, true);
  await reconciler.reconcileOnce();
  store.setNode(
    toNodeSnapshot({
      kind: "Node",
      metadata: { name: "n1", annotations: { "frr-advertiser.io/drain": "true" } },
    }),
  );
  await reconciler.reconcileOnce();
  // A drain is not the breaker's: its routes wait only for the graceful shutdown (RFC 8326).
  assert.equal(rec.networks.size, 20, "announced with GRACEFUL_SHUTDOWN first");
  assert.match(rec.appliedConfig ?? "", /^ bgp graceful-shutdown$/m);
  advance(5_000);
  await reconciler.reconcileOnce();
  assert.equal(rec.networks.size, 0, "then withdrawn");
  assert.doesNotMatch(rec.appliedConfig ?? "", /graceful-shutdown/);
  assert.deepEqual(events, []);
  await reconciler.stop();
});

/** Deletes s10–s27 three at a time, a pass after each three. */
async function deleteInSmallPasses(store: ClusterStore, reconciler: Reconciler): Promise<void> {
  for (let i = 10; i < 28; i += 3) {
    for (let k = i; k < Math.min(i + 3, 28); k++) store.deleteService("d", `s${k}`);
    await reconciler.reconcileOnce();
  }
}

void test("breaker: deletions spread over many small passes add up to a hold", async () => {
  const { store, rec, reconciler, events } = await twentyAdvertised();
  await deleteInSmallPasses(store, reconciler);
  assert.deepEqual(
    events.map((e) => e.kind),
    ["held"],
  );
  assert.ok(
    rec.networks.size >= 19,
    `the deletions are held: ${rec.networks.size} advertised\n${rec.calls.join("\n")}`,
  );
  await reconciler.stop();
});

void test("breaker: a held withdrawal of a set a fast pass removed comes back with its attributes", async () => {
  const { store, rec, reconciler, events } = await twentyAdvertised();
  addService(store, "t", "10.96.0.50", true, { "frr-advertiser.io/communities": "65000:9" });
  await reconciler.reconcileOnce();
  const tagged = [...rec.networks].find((l) => l.startsWith("network 10.96.0.50/32 route-map "));
  assert.ok(tagged, [...rec.networks].join("\n"));
  // Its last Service goes: the set's route-map goes with it (a fast pass).
  store.deleteService("d", "t");
  await reconciler.reconcileOnce();
  assert.ok(
    rec.calls.some((c) => c.startsWith("frr fast -[10.96.0.50/32] +[] maps-[")),
    rec.calls.join("\n"),
  );
  await deleteInSmallPasses(store, reconciler);
  assert.deepEqual(
    events.map((e) => e.kind),
    ["held"],
  );
  // The hold re-announces what was withdrawn since the baseline, that prefix with its set.
  assert.ok(rec.networks.has(tagged), `${tagged} held\n${[...rec.networks].join("\n")}`);
  await reconciler.stop();
});

void test("flap damping: withdrawals go at once; a Service that flapped too often is re-announced after its backoff", async () => {
  const reports: ReconcileReport[] = [];
  const { store, rec, reconciler, advance } = await twentyAdvertised((r) => reports.push(r));
  const flip = async (ready: boolean) => {
    advance(1000);
    addService(store, "s10", "10.96.0.10", ready);
    await reconciler.reconcileOnce();
  };
  // Five withdrawals within a minute (the default allows five): each comes back at once.
  for (let k = 0; k < 5; k++) {
    await flip(false);
    assert.ok(!rec.networks.has("network 10.96.0.10/32"), "withdrawn at once");
    await flip(true);
    assert.ok(rec.networks.has("network 10.96.0.10/32"), `back at once after withdrawal ${k + 1}`);
  }
  // The sixth: withdrawn at once, but ready again is held back for the base backoff (10 s).
  await flip(false);
  await flip(true);
  assert.ok(!rec.networks.has("network 10.96.0.10/32"), "held back");
  assert.equal(reconciler.desiredState?.decisions.find((d) => d.service === "d/s10")?.code, "flap-damped");
  advance(9_000);
  await reconciler.reconcileOnce();
  assert.ok(!rec.networks.has("network 10.96.0.10/32"), "not before the backoff ends");
  // The backoff ended: the pass evaluates the Service again without any event from the API.
  advance(1_100);
  await reconciler.reconcileOnce();
  assert.ok(rec.networks.has("network 10.96.0.10/32"), "announced once stable for the backoff");
  await reconciler.stop();
});
