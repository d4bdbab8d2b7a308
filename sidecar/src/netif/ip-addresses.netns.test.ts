// The adapter against the real kernel and iproute2, inside a network namespace this test creates
// (and deletes in after(), even on failure). Never touches the host's interfaces.
// Needs root and `ip netns`; skipped otherwise, unless FA_NETNS_REQUIRED=1 (then it fails).

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { systemClock } from "../clock.js";
import { createRunner, spawnCoprocess, type Coprocess } from "../exec.js";
import { AddressMonitor, parseMonitorLine } from "./address-monitor.js";
import { AddressReconciler } from "./address-reconciler.js";
import type { Runner } from "../exec.js";
import { IpAddressAdapter, IpCommandError, type KeptAs } from "./ip-addresses.js";
import { createAddressSync, type LiveAddressSync } from "./address-sync.js";
import { parseConfig } from "../config/load-config.js";
import { createLogger } from "../log.js";
import { IpBatchSession } from "./ip-batch-session.js";
import { OwnedAddressStore } from "./owned-state.js";

const NS = `faip${randomBytes(4).toString("hex")}`;
const host = createRunner(30_000);

async function ip(...args: string[]): Promise<string> {
  const r = await host(["ip", ...args]);
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(" ")}: exit ${r.exitCode}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Why the namespace cannot be made (not root, no netns support), or "" once it exists. */
async function createNamespace(): Promise<string> {
  if (process.getuid?.() !== 0) return "needs root";
  const r = await host(["ip", "netns", "add", NS]);
  if (r.exitCode !== 0) return `ip netns add failed: ${r.stderr.trim()}`;
  await ip("-n", NS, "link", "set", "lo", "up");
  return "";
}

let unavailable = "";
let created = false;
let stateDir = "";
let batches = 0;
let ipProcesses = 0;
/** The last batch ip started (ours: the test may kill it by its PID). */
let lastIp: Coprocess | undefined;
const sessions: IpBatchSession[] = [];

/** The production adapter's argv, run inside the namespace. */
const inNamespace: Runner = (argv, options) => host(["ip", "netns", "exec", NS, ...argv], options);

/** One long-lived `ip -n NS -force -batch -`, as address-sync.ts makes it; counts processes. */
function session(timeoutMs = 30_000): IpBatchSession {
  const s = new IpBatchSession({
    spawn: (onLine) => {
      ipProcesses++;
      lastIp = spawnCoprocess(["ip", "-n", NS, "-force", "-batch", "-"], onLine);
      return lastIp;
    },
    timeoutMs,
  });
  sessions.push(s);
  return s;
}

/** The adapter as `run` wires it: its batches to one ip session; counts batches. */
function adapter(iface = "lo", keptAs: KeptAs = "address"): IpAddressAdapter {
  const s = session();
  return new IpAddressAdapter({
    iface,
    keptAs,
    run: inNamespace,
    batch: (input) => {
      batches++;
      return s.run(input);
    },
  });
}

/** What the kernel holds, independently of the adapter: local → flags. */
async function kernelAddresses(): Promise<Map<string, Record<string, unknown>>> {
  const links = JSON.parse(await ip("-n", NS, "-j", "address", "show", "dev", "lo")) as {
    addr_info: Record<string, unknown>[];
  }[];
  return new Map(
    links.flatMap((l) => l.addr_info).map((a) => [`${String(a.local)}/${String(a.prefixlen)}`, a]),
  );
}

async function flushGlobal(): Promise<void> {
  await ip("-n", NS, "address", "flush", "dev", "lo", "scope", "global");
}

/** A test that needs the namespace: skipped, with the reason, where it cannot be made. */
function nsTest(name: string, fn: (t: TestContext) => Promise<void>): void {
  void test(name, async (t) => {
    if (unavailable !== "") {
      t.skip(unavailable);
      return;
    }
    await fn(t);
  });
}

before(async () => {
  unavailable = await createNamespace();
  created = unavailable === "";
  if (!created && process.env.FA_NETNS_REQUIRED === "1")
    throw new Error(`netns test required but: ${unavailable}`);
  stateDir = await mkdtemp(join(tmpdir(), "fa-netns-"));
});

after(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  // Only our uniquely named namespace; its addresses vanish with it.
  if (created) await host(["ip", "netns", "del", NS]);
  if (stateDir !== "") await rm(stateDir, { recursive: true, force: true });
});

void describe(`IpAddressAdapter in netns ${NS} (real iproute2)`, () => {
  nsTest("v4 + v6 host addresses in ONE batch, then listed", async () => {
    await flushGlobal();
    batches = 0;
    const a = adapter();
    const result = await a.apply({ add: ["10.0.0.7", "fd00::7", "2001:db8::1:0:0:1"], remove: [] });
    assert.equal(batches, 1);
    assert.deepEqual(result.failed, []);
    assert.deepEqual(result.rejected, []);
    assert.deepEqual([...(await a.list())].sort(), ["10.0.0.7", "2001:db8::1:0:0:1", "fd00::7"]);
    const kernel = await kernelAddresses();
    const v6 = kernel.get("fd00::7/128");
    assert.equal(v6?.nodad, true, "IPv6 added with nodad");
    assert.equal(v6.tentative, undefined, "usable at once");
    assert.ok(kernel.has("127.0.0.1/8") && kernel.has("::1/128"), "loopback's own addresses untouched");
  });

  nsTest("-force: a failing line (already assigned / not found) does not stop the rest", async (t) => {
    await flushGlobal();
    await ip("-n", NS, "address", "add", "10.0.0.8/32", "dev", "lo");
    await ip("-n", NS, "address", "add", "fd00::8/128", "dev", "lo", "nodad");
    batches = 0;
    const result = await adapter().apply({
      add: ["10.0.0.8", "10.0.0.9", "fd00::8", "fd00::9"],
      remove: ["10.0.0.200", "fd00::200"],
    });
    assert.equal(batches, 1);
    assert.deepEqual([...result.present].sort(), ["10.0.0.8", "10.0.0.9", "fd00::8", "fd00::9"]);
    assert.deepEqual(result.failed, []);
    t.diagnostic(`ip's messages: ${JSON.stringify(result.rejected)}`);
    assert.deepEqual(
      result.rejected.map((r) => `${r.op} ${r.address}`),
      ["add 10.0.0.8", "add fd00::8", "remove 10.0.0.200", "remove fd00::200"],
    );
    assert.ok(result.rejected.every((r) => r.reason.startsWith("Error:")));
  });

  nsTest("a foreign address survives a full sync cycle and a drain", async () => {
    await flushGlobal();
    await ip("-n", NS, "address", "add", "192.0.2.99/32", "dev", "lo");
    await ip("-n", NS, "address", "add", "2001:db8::99/128", "dev", "lo", "nodad");
    const store = new OwnedAddressStore({ path: join(stateDir, "owned.lo.json"), iface: "lo" });
    const r = new AddressReconciler({ adapter: adapter(), store });
    // The foreign v4 is also desired: it must stay un-owned.
    const up = await r.syncAddresses(["10.0.0.7", "fd00::7", "192.0.2.99"]);
    assert.deepEqual(up.add, ["10.0.0.7", "fd00::7"]);
    // A restarted process (fresh reconciler, same state file) drains to nothing.
    const restarted = new AddressReconciler({ adapter: adapter(), store });
    const down = await restarted.syncAddresses(new Set());
    assert.deepEqual(down.remove, ["10.0.0.7", "fd00::7"]);
    assert.deepEqual(down.failed, []);
    assert.deepEqual([...(await adapter().list())].sort(), ["192.0.2.99", "2001:db8::99"]);
    assert.deepEqual([...(await store.load())], []);
  });

  nsTest("1,000 addresses (v4 + v6) added in one batch, removed in one batch", async (t) => {
    await flushGlobal();
    const v4 = Array.from({ length: 500 }, (_, i) => `10.77.${i >> 8}.${i & 255}`);
    const v6 = Array.from({ length: 500 }, (_, i) => `fd00:77::${(i + 1).toString(16)}`);
    const a = adapter();
    batches = 0;
    let started = performance.now();
    const added = await a.apply({ add: [...v4, ...v6], remove: [] });
    t.diagnostic(`add 1,000: ${(performance.now() - started).toFixed(0)} ms (batch + re-list)`);
    assert.equal(batches, 1);
    assert.deepEqual(added.failed, []);
    assert.equal(added.present.size, 1_000);
    started = performance.now();
    const removed = await a.apply({ add: [], remove: [...v4, ...v6] });
    t.diagnostic(`remove 1,000: ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(batches, 2);
    assert.deepEqual(removed.failed, []);
    assert.equal(removed.present.size, 0);
  });

  nsTest(
    "one ip process for every batch; each batch's rejections are its own; a killed ip is replaced",
    async () => {
      await flushGlobal();
      const a = adapter();
      const processes = ipProcesses;
      const first = await a.apply({ add: ["10.0.0.21", "fd00::21"], remove: [] });
      assert.deepEqual(first.rejected, []);
      await ip("-n", NS, "address", "add", "10.0.0.23/32", "dev", "lo");
      // Its third line fails: reported as this batch's third line, not the process's fifth.
      const second = await a.apply({ add: ["10.0.0.22", "fd00::22", "10.0.0.23"], remove: ["10.0.0.21"] });
      assert.deepEqual(
        second.rejected.map((r) => `${r.op} ${r.address}`),
        ["add 10.0.0.23"],
      );
      assert.deepEqual(second.failed, []);
      assert.equal(ipProcesses - processes, 1, "one ip for both batches");
      // ip killed between batches (as by the OOM killer): the next batch starts another.
      const pid = lastIp?.pid;
      assert.ok(pid !== undefined);
      process.kill(pid, "SIGKILL");
      await lastIp?.ended;
      const third = await a.apply({ add: ["10.0.0.24"], remove: [] });
      assert.deepEqual(third.failed, []);
      assert.equal(ipProcesses - processes, 2);
      assert.deepEqual([...(await a.list())].sort(), [
        "10.0.0.22",
        "10.0.0.23",
        "10.0.0.24",
        "fd00::21",
        "fd00::22",
      ]);
    },
  );

  nsTest("a missing interface is an error, not an empty list", async () => {
    await assert.rejects(adapter("faipnone0").list(), IpCommandError);
  });
});

/** Our local routes as the kernel lists them (proto 250), independently of the adapter. */
async function kernelLocalRoutes(): Promise<string[]> {
  const out: string[] = [];
  for (const family of ["-4", "-6"]) {
    const routes = JSON.parse(
      await ip("-n", NS, "-j", family, "route", "show", "table", "local", "proto", "250"),
    ) as { dst: string }[];
    out.push(...routes.map((r) => r.dst));
  }
  return out.sort();
}

/** A local route with our proto number, added or deleted as someone else (or we) would. */
function localRoute(verb: "add" | "del" | "replace", dst: string): Promise<string> {
  return ip("-n", NS, "route", verb, "local", dst, "dev", "lo", "table", "local", "proto", "250");
}

async function flushLocalRoutes(): Promise<void> {
  for (const family of ["-4", "-6"])
    await ip("-n", NS, family, "route", "flush", "table", "local", "proto", "250");
}

void describe(`service IPs as local routes in netns ${NS} (real iproute2)`, () => {
  nsTest(
    "v4 + v6 in one batch: listed, delivered locally, removed; an address's own route is present, not ours",
    async () => {
      await flushGlobal();
      await flushLocalRoutes();
      await ip("-n", NS, "address", "add", "192.0.2.98/32", "dev", "lo");
      const a = adapter("lo", "local-route");
      batches = 0;
      const added = await a.apply({ add: ["10.0.0.7", "fd00::7", "192.0.2.98"], remove: [] });
      assert.equal(batches, 1);
      // The address's own local route is there already: ip refuses ours, and it stays someone else's.
      assert.deepEqual(added.failed, []);
      assert.deepEqual(
        added.rejected.map((r) => `${r.op} ${r.address}`),
        ["add 192.0.2.98"],
      );
      assert.deepEqual([...(await a.list())].sort(), ["10.0.0.7", "192.0.2.98", "fd00::7"]);
      assert.deepEqual(await kernelLocalRoutes(), ["10.0.0.7", "fd00::7"]);
      assert.match(await ip("-n", NS, "route", "get", "10.0.0.7"), /^local 10\.0\.0\.7 dev lo/);
      assert.match(await ip("-n", NS, "-6", "route", "get", "fd00::7"), /^local fd00::7 /);
      assert.equal((await kernelAddresses()).has("10.0.0.7/32"), false, "no address: a route only");
      const removed = await a.apply({ add: [], remove: ["10.0.0.7", "fd00::7"] });
      assert.deepEqual(removed.failed, []);
      assert.deepEqual(await kernelLocalRoutes(), []);
      assert.ok((await kernelAddresses()).has("192.0.2.98/32"), "the address (and its route) untouched");
      const after = await host(["ip", "-n", NS, "route", "get", "10.0.0.7"]);
      assert.doesNotMatch(after.stdout, /^local/, "no longer delivered locally");
    },
  );

  nsTest("a foreign local route and address survive a full sync cycle and a drain", async () => {
    await flushGlobal();
    await flushLocalRoutes();
    await ip("-n", NS, "address", "add", "192.0.2.99/32", "dev", "lo");
    // Someone else's local route with our proto number: the record, not the number, says whose.
    await localRoute("add", "198.51.100.9/32");
    const store = new OwnedAddressStore({ path: join(stateDir, "owned.lo.local-routes.json"), iface: "lo" });
    const r = new AddressReconciler({ adapter: adapter("lo", "local-route"), store });
    const up = await r.syncAddresses(["10.0.0.7", "fd00::7", "192.0.2.99", "198.51.100.9"]);
    assert.deepEqual(up.add, ["10.0.0.7", "fd00::7"]);
    const restarted = new AddressReconciler({ adapter: adapter("lo", "local-route"), store });
    const down = await restarted.syncAddresses(new Set());
    assert.deepEqual(down.remove, ["10.0.0.7", "fd00::7"]);
    assert.deepEqual(down.failed, []);
    assert.deepEqual(await kernelLocalRoutes(), ["198.51.100.9"]);
    assert.ok((await kernelAddresses()).has("192.0.2.99/32"));
    assert.deepEqual([...(await store.load())], []);
  });

  nsTest("10,000 local routes: one batch to add, one to remove", async (t) => {
    await flushGlobal();
    await flushLocalRoutes();
    const ips = Array.from({ length: 10_000 }, (_, i) => `10.78.${i >> 8}.${i & 255}`);
    const a = adapter("lo", "local-route");
    batches = 0;
    let started = performance.now();
    const added = await a.apply({ add: ips, remove: [] });
    t.diagnostic(`add 10,000: ${(performance.now() - started).toFixed(0)} ms (batch + re-list)`);
    assert.deepEqual(added.failed, []);
    assert.equal((await a.list()).size, 10_000);
    started = performance.now();
    const removed = await a.apply({ add: [], remove: ips });
    t.diagnostic(`remove 10,000: ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(batches, 4, "5,000 lines per batch");
    assert.deepEqual(removed.failed, []);
    assert.equal((await a.list()).size, 0);
  });

  nsTest(
    "switching advertise.localRoutes moves what we own to the new kind at the first change; nothing left behind",
    async (t) => {
      await flushGlobal();
      await flushLocalRoutes();
      const dir = await mkdtemp(join(stateDir, "switch-"));
      const logs: string[] = [];
      const log = createLogger("info", {
        write: (line: string) => logs.push(line),
      } as unknown as NodeJS.WritableStream);
      const syncs: LiveAddressSync[] = [];
      t.after(() => Promise.all(syncs.map((x) => x.close())));
      const sync = async (localRoutes: boolean) => {
        const yaml = `nodeName: n1
bgp: { asn: 64512 }
advertise: { allowedCidrs: [10.0.0.0/8], netns: ${NS}, localRoutes: ${String(localRoutes)}, stateFile: ${dir}/addresses.json }
`;
        const live = createAddressSync(
          host,
          await parseConfig(yaml, "c", {}, () => Promise.reject(new Error("none"))),
          log,
        );
        syncs.push(live);
        return live;
      };
      await (await sync(false)).sync(new Set(["10.0.0.61", "10.0.0.62"]), "add");
      assert.ok((await kernelAddresses()).has("10.0.0.61/32"));
      await (await sync(true)).sync(new Set(["10.0.0.61", "10.0.0.63"]), "add");
      const kernel = await kernelAddresses();
      assert.equal(kernel.has("10.0.0.61/32") || kernel.has("10.0.0.62/32"), false, "the addresses went");
      assert.deepEqual(await kernelLocalRoutes(), ["10.0.0.61", "10.0.0.63"]);
      assert.ok(logs.some((l) => l.includes("service IPs kept the other way removed")));
      // And back: the routes go, the addresses come.
      await (await sync(false)).sync(new Set(["10.0.0.61"]), "add");
      assert.deepEqual(await kernelLocalRoutes(), []);
      assert.ok((await kernelAddresses()).has("10.0.0.61/32"));
      await (await sync(false)).sync(new Set(), "remove");
    },
  );
});

/**
 * A monitor of lo in the namespace that listens: it asked for one listing once it ran, and an
 * event `poke` causes came through (ip monitor subscribes just after it starts). Events from then on.
 */
async function listeningMonitor(keptAs: KeptAs, poke: () => Promise<unknown>) {
  const events: string[] = [];
  let gaps = 0;
  const monitor = new AddressMonitor({
    iface: "lo",
    keptAs,
    netns: NS,
    onEvent: (e) => events.push(`${e.op} ${e.address}`),
    onGap: () => gaps++,
    log: { warn: () => undefined },
    clock: systemClock,
  });
  monitor.start();
  const deadline = Date.now() + 5000;
  while (gaps === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(gaps, 1, "one listing asked for once it runs");
  while (events.length === 0 && Date.now() < deadline) {
    await poke();
    await new Promise((r) => setTimeout(r, 50));
  }
  events.length = 0;
  const eventsBy = async (n: number) => {
    while (events.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return events;
  };
  return { monitor, eventsBy };
}

void describe(`AddressMonitor in netns ${NS} (real ip monitor)`, () => {
  nsTest(
    "reports host-address adds and deletes on its interface; a listing after it starts; stop ends it",
    async () => {
      await flushGlobal();
      const { monitor, eventsBy } = await listeningMonitor("address", () =>
        ip("-n", NS, "address", "replace", "10.0.0.50/32", "dev", "lo"),
      );
      try {
        await ip("-n", NS, "address", "add", "fd00::51/128", "dev", "lo", "nodad");
        await ip("-n", NS, "address", "add", "10.9.0.1/24", "dev", "lo"); // a subnet: not ours
        await ip("-n", NS, "address", "del", "10.0.0.50/32", "dev", "lo");
        assert.deepEqual(await eventsBy(2), ["add fd00::51", "remove 10.0.0.50"]);
        assert.equal(monitor.running, true);
      } finally {
        monitor.stop();
      }
      assert.equal(monitor.running, false);
    },
  );

  nsTest("of local routes: host local routes on its interface, whoever added them", async () => {
    await flushGlobal();
    await flushLocalRoutes();
    const { monitor, eventsBy } = await listeningMonitor("local-route", () =>
      localRoute("replace", "10.0.0.50/32"),
    );
    try {
      await localRoute("add", "fd00::51/128");
      await localRoute("add", "10.9.0.0/24"); // a subnet: not ours
      await ip("-n", NS, "route", "add", "10.8.0.0/24", "dev", "lo"); // the main table: not ours
      await ip("-n", NS, "address", "add", "10.0.0.52/32", "dev", "lo"); // its own local route: seen
      await localRoute("del", "10.0.0.50/32");
      assert.deepEqual(await eventsBy(3), ["add fd00::51", "add 10.0.0.52", "remove 10.0.0.50"]);
    } finally {
      monitor.stop();
      await ip("-n", NS, "route", "del", "10.8.0.0/24", "dev", "lo");
      await flushLocalRoutes();
    }
  });
});

void test("parseMonitorLine of local routes: host routes in the local table through the interface only", () => {
  const table: [string, string | undefined][] = [
    ["local 10.96.0.10 dev lo table local proto 250 scope host ", "add 10.96.0.10"],
    ["Deleted local 10.96.0.10 dev lo table local proto 250 scope host ", "remove 10.96.0.10"],
    ["local fd00::10 dev lo table local proto 250 metric 1024 pref medium", "add fd00::10"],
    ["local 10.1.1.1 dev lo table local proto kernel scope host src 10.1.1.1 ", "add 10.1.1.1"],
    ["local 10.96.0.11/32 dev lo table local proto 250 scope host ", "add 10.96.0.11"],
    ["local 10.9.0.0/24 dev lo table local proto 250 scope host ", undefined],
    ["local 10.96.0.10 dev eth0 table local proto kernel scope host src 10.96.0.10 ", undefined],
    ["10.96.0.10 via 192.0.2.1 dev eth0 proto bgp metric 20 ", undefined],
    ["broadcast 127.255.255.255 dev lo table local proto kernel scope link src 127.0.0.1 ", undefined],
    ["1: lo    inet 10.96.0.10/32 scope global lo", undefined],
  ];
  for (const [line, expected] of table) {
    const e = parseMonitorLine(line, "lo", "local-route");
    assert.equal(e === undefined ? undefined : `${e.op} ${e.address}`, expected, line);
  }
});

void test("parseMonitorLine: host addresses on the interface only", () => {
  const table: [string, string | undefined][] = [
    [
      "1: lo    inet 10.96.0.10/32 scope global lo\\       valid_lft forever preferred_lft forever",
      "add 10.96.0.10",
    ],
    ["Deleted 1: lo    inet 10.96.0.10/32 scope global lo\\       valid_lft forever", "remove 10.96.0.10"],
    ["1: lo    inet6 fd00::10/128 scope global tentative \\       valid_lft forever", "add fd00::10"],
    ["1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever", undefined],
    ["1: lo    inet6 fd00::/64 scope global", undefined],
    ["2: eth0    inet 10.96.0.10/32 scope global eth0", undefined],
    ["Deleted 2: lo2    inet 10.96.0.10/32 scope global lo2", undefined],
    ["garbage", undefined],
  ];
  for (const [line, expected] of table) {
    const e = parseMonitorLine(line, "lo");
    assert.equal(e === undefined ? undefined : `${e.op} ${e.address}`, expected, line);
  }
});
