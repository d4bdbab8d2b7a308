// The adapter against the real kernel and iproute2, inside a network namespace this test creates
// (and deletes in after(), even on failure). Never touches the host's interfaces.
// Needs root and `ip netns`; skipped otherwise, unless FA_NETNS_REQUIRED=1 (then it fails).

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createRunner, spawnCoprocess, type Coprocess } from "../exec.js";
import { AddressMonitor, parseMonitorLine } from "./address-monitor.js";
import { AddressReconciler } from "./address-reconciler.js";
import type { Runner } from "../exec.js";
import { IpAddressAdapter, IpCommandError } from "./ip-addresses.js";
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
function adapter(iface = "lo"): IpAddressAdapter {
  const s = session();
  return new IpAddressAdapter({
    iface,
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
  void test("v4 + v6 host addresses in ONE batch, then listed", async (t) => {
    if (unavailable !== "") {
      t.skip(unavailable);
      return;
    }
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

  void test("-force: a failing line (already assigned / not found) does not stop the rest", async (t) => {
    if (unavailable !== "") {
      t.skip(unavailable);
      return;
    }
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

  void test("a foreign address survives a full sync cycle and a drain", async (t) => {
    if (unavailable !== "") {
      t.skip(unavailable);
      return;
    }
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

  void test("1,000 addresses (v4 + v6) added in one batch, removed in one batch", async (t) => {
    if (unavailable !== "") {
      t.skip(unavailable);
      return;
    }
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

  void test("one ip process for every batch; each batch's rejections are its own; a killed ip is replaced", async (t) => {
    if (unavailable !== "") {
      t.skip(unavailable);
      return;
    }
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
  });

  void test("a missing interface is an error, not an empty list", async (t) => {
    if (unavailable !== "") {
      t.skip(unavailable);
      return;
    }
    await assert.rejects(adapter("faipnone0").list(), IpCommandError);
  });
});

void describe(`AddressMonitor in netns ${NS} (real ip monitor)`, () => {
  void test("reports host-address adds and deletes on its interface; a listing after it starts; stop ends it", async (t) => {
    if (unavailable !== "") {
      t.skip(unavailable);
      return;
    }
    await flushGlobal();
    const events: string[] = [];
    let gaps = 0;
    const monitor = new AddressMonitor({
      iface: "lo",
      netns: NS,
      onEvent: (e) => events.push(`${e.op} ${e.address}`),
      onGap: () => gaps++,
      log: { warn: () => undefined },
    });
    monitor.start();
    try {
      const deadline = Date.now() + 5000;
      while (gaps === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(gaps, 1, "one listing asked for once it runs");
      // ip monitor subscribes right after it starts: add until the first event shows it listens.
      while (events.length === 0 && Date.now() < deadline) {
        await ip("-n", NS, "address", "replace", "10.0.0.50/32", "dev", "lo");
        await new Promise((r) => setTimeout(r, 50));
      }
      events.length = 0;
      await ip("-n", NS, "address", "add", "fd00::51/128", "dev", "lo", "nodad");
      await ip("-n", NS, "address", "add", "10.9.0.1/24", "dev", "lo"); // a subnet: not ours
      await ip("-n", NS, "address", "del", "10.0.0.50/32", "dev", "lo");
      while (events.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(events, ["add fd00::51", "remove 10.0.0.50"]);
      assert.equal(monitor.running, true);
    } finally {
      monitor.stop();
    }
    assert.equal(monitor.running, false);
  });
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
