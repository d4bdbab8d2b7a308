import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AddressReconciler } from "./address-reconciler.js";
import { FakeIp } from "./fake-ip.test-helper.js";
import { IpAddressAdapter, type AddressChange, type ApplyResult } from "./ip-addresses.js";
import { OwnedAddressStore } from "./owned-state.js";

let dir = "";
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "fa-recon-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FOREIGN = "192.0.2.99";

/** An owned-address store in memory: load() gives its live set, record() changes it. */
function memoryStore() {
  const owned = new Set<string>();
  return {
    load: () => Promise.resolve(owned),
    record: (change: { readonly add: readonly string[]; readonly remove: readonly string[] }) => {
      for (const a of change.add) owned.add(a);
      for (const a of change.remove) owned.delete(a);
      return Promise.resolve();
    },
  };
}

/** One "node": a fake interface and a state file; reconcilers made from it are "process restarts". */
function node() {
  const ip = new FakeIp("lo");
  const path = join(dir, `owned-${n++}.json`);
  const log: string[] = [];
  const run = ip.run;
  const start = (opts: { crash?: "before-apply" | "after-apply" } = {}) => {
    const adapter = new IpAddressAdapter({
      iface: "lo",
      run: (argv, input) => {
        if (argv.includes("-batch")) log.push("batch");
        return run(argv, input);
      },
    });
    const store = new OwnedAddressStore({ path, iface: "lo" });
    const saving = {
      load: () => store.load(),
      record: async (change: { readonly add: readonly string[]; readonly remove: readonly string[] }) => {
        const words = [...change.add.map((a) => `+${a}`), ...change.remove.map((a) => `-${a}`)];
        log.push(`record ${words.join(",")}`);
        await store.record(change);
      },
    };
    const crashing = {
      list: () => adapter.list(),
      apply: async (change: AddressChange, before?: Set<string>): Promise<ApplyResult> => {
        if (opts.crash === "before-apply") throw new Error("SIGKILL before ip ran");
        const result = await adapter.apply(change, before);
        if (opts.crash === "after-apply") throw new Error("SIGKILL after ip ran");
        return result;
      },
    };
    return new AddressReconciler({ adapter: crashing, store: saving });
  };
  const onIface = () => [...ip.addresses].map((a) => a.split("/")[0]).sort();
  // What a restarted process would load (snapshot and journal).
  const stateFile = async () => [...(await new OwnedAddressStore({ path, iface: "lo" }).load())].sort();
  return { ip, log, start, onIface, stateFile };
}

void describe("AddressReconciler", () => {
  void test("fresh start: adds in one batch, records ownership before and after", async () => {
    const nd = node();
    const out = await nd.start().syncAddresses(new Set(["10.0.0.7", "fd00::7"]));
    assert.deepEqual(out.add, ["10.0.0.7", "fd00::7"]);
    assert.equal(out.ownedCount, 2);
    assert.deepEqual(await nd.stateFile(), ["10.0.0.7", "fd00::7"]);
    assert.deepEqual(out.failed, []);
    assert.deepEqual(nd.onIface(), ["10.0.0.7", "fd00::7"]);
    // Intent saved BEFORE the batch; the verified set equals the intent, so no second save.
    assert.deepEqual(nd.log, ["record +10.0.0.7,+fd00::7", "batch"]);
    assert.deepEqual(await nd.stateFile(), ["10.0.0.7", "fd00::7"]);
  });

  void test("restart after SIGKILL: no adds, no removes, foreign untouched, drain removes only ours", async () => {
    const nd = node();
    nd.ip.addresses.add(`${FOREIGN}/32`);
    await nd.start().syncAddresses(["10.0.0.7", "fd00::7"]);
    nd.log.length = 0;
    const restarted = nd.start();
    const again = await restarted.syncAddresses(["10.0.0.7", "fd00::7"]);
    assert.deepEqual([again.add, again.remove], [[], []]);
    assert.deepEqual(nd.log, [], "no batch, no save");
    const drained = await restarted.syncAddresses(new Set());
    assert.deepEqual(drained.remove, ["10.0.0.7", "fd00::7"]);
    assert.deepEqual(nd.onIface(), [FOREIGN]);
    assert.deepEqual(await nd.stateFile(), []);
  });

  void test("a desired address someone else already put there is never removed", async () => {
    const nd = node();
    nd.ip.addresses.add(`${FOREIGN}/32`);
    const r = nd.start();
    const out = await r.syncAddresses([FOREIGN, "10.0.0.7"]);
    assert.deepEqual(out.add, ["10.0.0.7"]);
    assert.equal(out.ownedCount, 1);
    assert.deepEqual(await nd.stateFile(), ["10.0.0.7"]);
    await r.syncAddresses([]);
    assert.deepEqual(nd.onIface(), [FOREIGN]);
  });

  void test("crash after intent was saved but before ip ran: next start re-adds, nothing orphaned", async () => {
    const nd = node();
    await assert.rejects(nd.start({ crash: "before-apply" }).syncAddresses(["10.0.0.7"]), /SIGKILL/);
    assert.deepEqual(await nd.stateFile(), ["10.0.0.7"]);
    assert.deepEqual(nd.onIface(), []);
    const out = await nd.start().syncAddresses(["10.0.0.7"]);
    assert.deepEqual(out.add, ["10.0.0.7"]);
    assert.equal(out.ownedCount, 1);
    assert.deepEqual(await nd.stateFile(), ["10.0.0.7"]);
  });

  void test("crash after ip added but before the final save: the addresses are still ours", async () => {
    const nd = node();
    await assert.rejects(
      nd.start({ crash: "after-apply" }).syncAddresses(["10.0.0.7", "10.0.0.8"]),
      /SIGKILL/,
    );
    assert.deepEqual(nd.onIface(), ["10.0.0.7", "10.0.0.8"]);
    const out = await nd.start().syncAddresses(["10.0.0.7"]);
    assert.deepEqual(out.remove, ["10.0.0.8"]);
    assert.deepEqual(nd.onIface(), ["10.0.0.7"]);
  });

  void test("crash during a removal: the address stays owned until it is gone", async () => {
    const nd = node();
    await nd.start().syncAddresses(["10.0.0.7", "10.0.0.8"]);
    await assert.rejects(nd.start({ crash: "before-apply" }).syncAddresses(["10.0.0.7"]), /SIGKILL/);
    assert.deepEqual(await nd.stateFile(), ["10.0.0.7", "10.0.0.8"]);
    const out = await nd.start().syncAddresses(["10.0.0.7"]);
    assert.deepEqual(out.remove, ["10.0.0.8"]);
    assert.deepEqual(await nd.stateFile(), ["10.0.0.7"]);
  });

  void test('phases: "add" never removes, "remove" never adds', async () => {
    const nd = node();
    const r = nd.start();
    await r.syncAddresses(["10.0.0.1"]);
    const added = await r.syncAddresses(["10.0.0.2"], [], "add");
    assert.deepEqual([added.add, added.remove], [["10.0.0.2"], []]);
    assert.deepEqual(nd.onIface(), ["10.0.0.1", "10.0.0.2"]);
    const removed = await r.syncAddresses(["10.0.0.3"], [], "remove");
    assert.deepEqual([removed.add, removed.remove], [[], ["10.0.0.1", "10.0.0.2"]]);
    assert.deepEqual(nd.onIface(), []);
    assert.equal(removed.ownedCount, 0);
    assert.deepEqual(await nd.stateFile(), []);
  });

  void test("syncChanged: plans only the given addresses against the last listing", async () => {
    const nd = node();
    const r = nd.start();
    const wanted = (entries: Record<string, boolean>) => new Map(Object.entries(entries));
    assert.equal(await r.syncChanged(wanted({ "10.0.0.7": true })), undefined, "no listing yet: full step");
    nd.ip.addresses.add(`${FOREIGN}/32`);
    await r.syncAddresses(new Set(["10.0.0.7"]));
    nd.log.length = 0;
    const added = await r.syncChanged(wanted({ "10.0.0.8": true, "10.0.0.9": true }), [], "add");
    assert.deepEqual(added?.add, ["10.0.0.8", "10.0.0.9"]);
    assert.deepEqual(nd.log, ["record +10.0.0.8,+10.0.0.9", "batch"], "intent first; no list");
    // Removal: only ours, never the foreign one, never an excluded one.
    nd.log.length = 0;
    const removed = await r.syncChanged(
      wanted({ "10.0.0.8": false, [FOREIGN]: false, "10.0.0.9": false }),
      ["10.0.0.9"],
      "remove",
    );
    assert.deepEqual(removed?.remove, ["10.0.0.8"]);
    assert.deepEqual(nd.log, ["batch", "record -10.0.0.8"]);
    assert.deepEqual(nd.onIface(), ["10.0.0.7", "10.0.0.9", FOREIGN]);
    assert.deepEqual(await nd.stateFile(), ["10.0.0.7", "10.0.0.9"]);
    // Nothing to do by the listing: no batch, no record.
    nd.log.length = 0;
    assert.deepEqual((await r.syncChanged(wanted({ "10.0.0.7": true }), [], "add"))?.add, []);
    assert.deepEqual(nd.log, []);
    // A non-canonical text is not planned here: the caller takes the full step.
    assert.equal(await r.syncChanged(wanted({ "010.0.0.1": true })), undefined);
  });

  void test("kernel events: ours (also late) are expected; someone else's change is drift", async () => {
    const ip = new FakeIp("lo");
    const add = (address: string) => ({ op: "add" as const, address });
    const del = (address: string) => ({ op: "remove" as const, address });
    // Events of our own batch, seen while it runs.
    const seen: boolean[] = [];
    const adapter = new IpAddressAdapter({
      iface: "lo",
      run: async (argv, input) => {
        const result = await ip.run(argv, input);
        if (argv.includes("-batch")) seen.push(rr.observe(add("10.0.0.1")), rr.observe(add(FOREIGN)));
        return result;
      },
    });
    const rr = new AddressReconciler({
      adapter,
      store: memoryStore(),
    });
    // Before the first listing nothing is believed: the first listing will see the truth.
    assert.equal(rr.observe(add("10.0.0.1")), false);
    await rr.syncAddresses(["10.0.0.1", "10.0.0.2"]);
    assert.deepEqual(seen, [false, true], "our add expected mid-batch; a foreign add is drift");
    const table: [string, { op: "add" | "remove"; address: string }, boolean][] = [
      ["our add arriving after the batch", add("10.0.0.2"), false],
      ["our address deleted by someone", del("10.0.0.2"), true],
      ["a delete of an address already gone", del("10.0.0.9"), false],
      ["an address added by someone", add("10.0.0.9"), true],
    ];
    for (const [what, event, drift] of table) assert.equal(rr.observe(event), drift, what);
    await rr.syncAddresses(["10.0.0.1"]);
    assert.equal(rr.observe(del("10.0.0.2")), false, "our removal's late event");
  });

  void test("kernel events: our own, late by several batches, are expected once and for a while", async () => {
    let now = 1_000_000;
    const ip = new FakeIp("lo");
    const rr = new AddressReconciler({
      adapter: new IpAddressAdapter({ iface: "lo", run: ip.run }),
      store: memoryStore(),
      now: () => now,
    });
    const add = (address: string) => ({ op: "add" as const, address });
    const del = (address: string) => ({ op: "remove" as const, address });
    await rr.syncAddresses(["10.0.0.1"]);
    await rr.syncAddresses(["10.0.0.2"]); // 10.0.0.1 goes again before its add was reported
    assert.equal(rr.observe(add("10.0.0.1")), false, "our add, reported after our removal");
    assert.equal(rr.observe(del("10.0.0.1")), false, "our removal");
    assert.equal(rr.observe(add("10.0.0.1")), true, "an add nobody of ours made: someone else's");
    now += 31_000;
    assert.equal(rr.observe(add("10.0.0.2")), false, "still on the interface as we believe");
    assert.equal(rr.observe(del("10.0.0.2")), true, "a removal we did not make");
  });

  void test("excluded addresses are neither added nor removed", async () => {
    const nd = node();
    const r = nd.start();
    await r.syncAddresses(["10.0.0.1", "10.0.0.2"]);
    const out = await r.syncAddresses(["10.0.0.3", "10.9.0.1"], ["10.0.0.2", "10.9.0.0/16"]);
    assert.deepEqual([out.add, out.remove], [["10.0.0.3"], ["10.0.0.1"]]);
    assert.deepEqual(nd.onIface(), ["10.0.0.2", "10.0.0.3"]);
  });

  void test("a refused add is reported, not owned, and retried next time", async () => {
    const nd = node();
    nd.ip.refuse.add("10.0.0.8");
    const r = nd.start();
    const out = await r.syncAddresses(["10.0.0.7", "10.0.0.8"]);
    assert.deepEqual(
      out.failed.map((f) => f.address),
      ["10.0.0.8"],
    );
    assert.equal(out.ownedCount, 1);
    assert.deepEqual(await nd.stateFile(), ["10.0.0.7"]);
    assert.deepEqual(await nd.stateFile(), ["10.0.0.7"]);
    nd.ip.refuse.clear();
    const retry = await r.syncAddresses(["10.0.0.7", "10.0.0.8"]);
    assert.deepEqual([retry.add, retry.failed], [["10.0.0.8"], []]);
  });

  void test("an address that appears between list and batch is someone else's", async () => {
    const ip = new FakeIp("lo");
    const adapter = new IpAddressAdapter({
      iface: "lo",
      run: (argv, input) => {
        if (argv.includes("-batch")) ip.addresses.add(`${FOREIGN}/32`); // the race
        return ip.run(argv, input);
      },
    });
    const store = new OwnedAddressStore({ path: join(dir, `race-${n++}.json`), iface: "lo" });
    const r = new AddressReconciler({ adapter, store });
    const out = await r.syncAddresses([FOREIGN, "10.0.0.7"]);
    assert.deepEqual(out.failed, []);
    assert.equal(out.ownedCount, 1);
    assert.deepEqual([...(await store.load())], ["10.0.0.7"]);
    await r.syncAddresses([]);
    assert.ok(ip.addresses.has(`${FOREIGN}/32`));
  });

  void test("overlapping calls run one at a time", async () => {
    const ip = new FakeIp("lo");
    let active = 0;
    let maxActive = 0;
    const adapter = new IpAddressAdapter({
      iface: "lo",
      run: async (argv, input) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((resolve) => setTimeout(resolve, 5));
        active--;
        return ip.run(argv, input);
      },
    });
    const store = new OwnedAddressStore({ path: join(dir, `serial-${n++}.json`), iface: "lo" });
    const r = new AddressReconciler({ adapter, store });
    const desired = new Set(["10.0.0.1"]);
    const first = r.syncAddresses(desired);
    desired.add("10.0.0.2"); // mutating the caller's set after the call does not leak into it
    const results = await Promise.all([first, r.syncAddresses(["10.0.0.3"]), r.syncAddresses(["10.0.0.3"])]);
    assert.equal(maxActive, 1);
    assert.deepEqual(
      results.map((o) => [o.add, o.remove]),
      [
        [["10.0.0.1"], []],
        [["10.0.0.3"], ["10.0.0.1"]],
        [[], []],
      ],
    );
  });

  void test("trustLastListing: plans on the last listing; lists again only after ip rejected a line", async () => {
    const nd = node();
    const r = nd.start();
    const lists = () => nd.ip.calls.filter((c) => c.argv.includes("show")).length;
    await r.syncAddresses(["10.0.0.7", "10.0.0.8"], [], "add");
    const before = lists();
    const trust = { trustLastListing: true };
    // A withdrawal's passes: nothing to add, the address stays during its grace period.
    assert.deepEqual((await r.syncAddresses(["10.0.0.7"], [], "add", trust)).add, []);
    assert.deepEqual((await r.syncAddresses(["10.0.0.7", "10.0.0.8"], [], "remove", trust)).remove, []);
    assert.equal(lists(), before, "no listing");
    // Something to do, all accepted by ip: planned on the last listing, verified by ip's lines.
    const batches = nd.ip.batchCalls().length;
    const added = await r.syncAddresses(["10.0.0.7", "10.0.0.8", "10.0.0.9"], [], "add", trust);
    assert.deepEqual([added.add, added.ownedCount], [["10.0.0.9"], 3]);
    assert.equal(nd.ip.batchCalls().length, batches + 1);
    assert.equal(lists(), before, "no listing before or after the batch");
    // Someone else added an address meanwhile, which we now want too: the stale plan adds it, ip
    // rejects the line ("already assigned"), a fresh listing follows, and it is not ours.
    nd.ip.addresses.add(`${FOREIGN}/32`);
    const out = await r.syncAddresses([FOREIGN, "10.0.0.7", "10.0.0.8", "10.0.0.9"], [], "add", trust);
    assert.equal(out.ownedCount, 3);
    assert.deepEqual(await nd.stateFile(), ["10.0.0.7", "10.0.0.8", "10.0.0.9"]);
    assert.deepEqual(
      out.rejected.map((f) => f.address),
      [FOREIGN],
    );
    assert.equal(lists(), before + 1, "one listing, after the rejected line");
    // Removal after the grace period: planned on that listing; the foreign address stays.
    const removed = await r.syncAddresses([FOREIGN, "10.0.0.7"], [], "remove", trust);
    assert.deepEqual(removed.remove, ["10.0.0.8", "10.0.0.9"]);
    assert.deepEqual(nd.onIface(), ["10.0.0.7", FOREIGN].sort());
    assert.equal(lists(), before + 1);
  });

  void test("a full sync lists once: a batch ip accepted in full is not listed again to verify it", async () => {
    const nd = node();
    const r = nd.start();
    const lists = () => nd.ip.calls.filter((c) => c.argv.includes("show")).length;
    await r.syncAddresses(["10.0.0.7", "10.0.0.8"]);
    assert.equal(lists(), 1, "start: one listing, then the batch");
    nd.ip.addresses.add(`${FOREIGN}/32`);
    // The drain's step: everything ours goes, the foreign address stays, one listing (10k: ≈ 0.1 s).
    const drained = await r.syncAddresses(new Set(), [], "remove");
    assert.deepEqual(drained.remove, ["10.0.0.7", "10.0.0.8"]);
    assert.equal(drained.ownedCount, 0);
    assert.equal(lists(), 2);
    assert.deepEqual(nd.onIface(), [FOREIGN]);
    // What it believes afterwards is the interface: the foreign address is not drift.
    assert.equal(r.observe({ op: "add", address: FOREIGN }), false);
  });

  void test("trustLastListing: drift is repaired by the next call without it", async () => {
    const nd = node();
    const r = nd.start();
    await r.syncAddresses(["10.0.0.7"], [], "add");
    nd.ip.addresses.delete("10.0.0.7/32"); // someone removed our address behind our back
    const trusted = await r.syncAddresses(["10.0.0.7"], [], "add", { trustLastListing: true });
    assert.deepEqual(trusted.add, [], "not noticed while trusting the listing");
    const repaired = await r.syncAddresses(["10.0.0.7"], [], "add");
    assert.deepEqual(repaired.add, ["10.0.0.7"]);
    assert.deepEqual(nd.onIface(), ["10.0.0.7"]);
  });

  void test("a failure does not jam the queue", async () => {
    const nd = node();
    const r = nd.start({ crash: "before-apply" });
    await assert.rejects(r.syncAddresses(["10.0.0.1"]));
    const out = await r.syncAddresses([]);
    assert.equal(out.ownedCount, 0);
    assert.deepEqual(await nd.stateFile(), []);
  });
});
