import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeIp } from "./fake-ip.test-helper.js";
import {
  assertSafeAddress,
  InvalidAddressError,
  IpAddressAdapter,
  IpCommandError,
  parseHostAddresses,
  parseLocalRoutes,
  rejectedLines,
  batchLines,
} from "./ip-addresses.js";

function v4(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

void describe("IpAddressAdapter.list", () => {
  void test("keeps /32 and /128 only, canonical; drops link-local, host scope, other prefixes", async () => {
    const ip = new FakeIp("lo");
    ip.extraInfo.push(
      { family: "inet", local: "127.0.0.1", prefixlen: 8, scope: "host" },
      { family: "inet", local: "10.1.0.0", prefixlen: 24, scope: "global" },
      { family: "inet6", local: "::1", prefixlen: 128, scope: "host" },
      { family: "inet6", local: "fe80::1", prefixlen: 128, scope: "global" }, // link-local whatever the scope
      { family: "inet6", local: "fe8::1", prefixlen: 128, scope: "global" }, // 0fe8::1 is NOT link-local
      { family: "inet6", local: "::ffff:10.0.0.1", prefixlen: 128, scope: "global" }, // ambiguous: skipped
      { family: "inet6", local: "FD00:0::9", prefixlen: 128, scope: "global" },
    );
    ip.addresses.add("10.0.0.7/32").add("fd00::7/128");
    const adapter = new IpAddressAdapter({ iface: "lo", run: ip.run });
    assert.deepEqual([...(await adapter.list())].sort(), ["10.0.0.7", "fd00::7", "fd00::9", "fe8::1"]);
    assert.deepEqual(ip.calls[0]?.argv, ["ip", "-j", "address", "show", "dev", "lo"]);
  });

  void test("a failing ip (no such device) is an error, not an empty interface", async () => {
    const adapter = new IpAddressAdapter({
      iface: "svc0",
      run: () => Promise.resolve({ stdout: "", stderr: 'Device "svc0" does not exist.\n', exitCode: 1 }),
    });
    await assert.rejects(adapter.list(), IpCommandError);
  });

  void test("parses real ip -j output", () => {
    const stdout =
      '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"addr_info":[' +
      '{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo"},' +
      '{"family":"inet","local":"10.0.0.7","prefixlen":32,"scope":"global","label":"lo"},' +
      '{"family":"inet6","local":"fd00::7","prefixlen":128,"scope":"global","nodad":true},' +
      '{"family":"inet6","local":"::1","prefixlen":128,"scope":"host"}]}]';
    assert.deepEqual([...parseHostAddresses(stdout)], ["10.0.0.7", "fd00::7"]);
  });
});

void describe("IpAddressAdapter.apply", () => {
  void test("all changes in ONE ip -force -batch - process, IPv6 with nodad, no -6", async () => {
    const ip = new FakeIp("lo");
    ip.addresses.add("10.0.0.1/32").add("fd00::1/128");
    const adapter = new IpAddressAdapter({ iface: "lo", run: ip.run });
    const result = await adapter.apply({ add: ["10.0.0.7", "fd00::7"], remove: ["10.0.0.1", "fd00::1"] });
    const batches = ip.batchCalls();
    assert.equal(batches.length, 1);
    assert.deepEqual(batches[0]?.argv, ["ip", "-force", "-batch", "-"]);
    assert.equal(
      batches[0].input,
      "address add 10.0.0.7/32 dev lo\n" +
        "address add fd00::7/128 dev lo nodad\n" +
        "address del 10.0.0.1/32 dev lo\n" +
        "address del fd00::1/128 dev lo\n",
    );
    assert.deepEqual(result.failed, []);
    assert.deepEqual(result.rejected, []);
    assert.equal(result.batches, 1);
    assert.deepEqual([...result.present].sort(), ["10.0.0.7", "fd00::7"]);
    // one batch process + one re-list, nothing per address
    assert.equal(ip.calls.length, 2);
  });

  void test("10,000 adds + 10,000 removes: chunked by maxLinesPerBatch, every line exactly once", async () => {
    const ip = new FakeIp("lo");
    const remove = Array.from({ length: 10_000 }, (_, i) => v4(100_000 + i));
    for (const a of remove) ip.addresses.add(`${a}/32`);
    const add = Array.from({ length: 10_000 }, (_, i) => v4(i));
    const adapter = new IpAddressAdapter({ iface: "lo", run: ip.run });
    const result = await adapter.apply({ add, remove });
    const batches = ip.batchCalls();
    assert.equal(batches.length, 4); // default 5,000 lines per process
    assert.equal(result.batches, 4);
    const lines = batches.flatMap((b) => (b.input ?? "").split("\n").filter((l) => l !== ""));
    assert.ok(batches.every((b) => (b.input ?? "").split("\n").length - 1 === 5_000));
    assert.equal(lines.length, 20_000);
    assert.equal(new Set(lines).size, 20_000);
    assert.equal(lines[0], "address add 10.0.0.0/32 dev lo");
    assert.equal(lines[19_999], `address del ${v4(109_999)}/32 dev lo`);
    assert.deepEqual(result.failed, []);
    assert.equal(result.present.size, 10_000);
  });

  void test("10,000 changes fit one process when the chunk allows it", async () => {
    const ip = new FakeIp("lo");
    const add = Array.from({ length: 10_000 }, (_, i) => v4(i));
    const adapter = new IpAddressAdapter({ iface: "lo", run: ip.run, maxLinesPerBatch: 10_000 });
    const result = await adapter.apply({ add, remove: [] });
    assert.equal(ip.batchCalls().length, 1);
    assert.equal(result.present.size, 10_000);
  });

  void test("one failing line does not abort the rest; failures are verified by re-listing", async () => {
    const ip = new FakeIp("lo");
    ip.addresses.add("10.0.0.8/32"); // appeared after the caller listed: add is rejected, address present
    ip.refuse.add("10.0.0.9");
    const adapter = new IpAddressAdapter({ iface: "lo", run: ip.run });
    const result = await adapter.apply({
      add: ["10.0.0.7", "10.0.0.8", "10.0.0.9", "fd00::7"],
      remove: ["10.0.0.5"],
    });
    assert.deepEqual(
      [...result.present].sort(),
      ["10.0.0.7", "10.0.0.8", "fd00::7"],
      "lines after the failures still ran",
    );
    assert.deepEqual(result.rejected, [
      { address: "10.0.0.8", op: "add", reason: "Error: ipv4: Address already assigned." },
      { address: "10.0.0.9", op: "add", reason: "Error: RTNETLINK answers: Operation not permitted" },
      { address: "10.0.0.5", op: "remove", reason: "Error: ipv4: Address not found." },
    ]);
    // 10.0.0.8 is there and 10.0.0.5 is gone: only 10.0.0.9 did not take effect.
    assert.deepEqual(result.failed, [
      { address: "10.0.0.9", op: "add", reason: "Error: RTNETLINK answers: Operation not permitted" },
    ]);
  });

  void test("a batch that dies without line numbers marks its lines, verification decides", async () => {
    let calls = 0;
    const adapter = new IpAddressAdapter({
      iface: "lo",
      run: (argv) => {
        calls++;
        if (argv.includes("-batch"))
          return Promise.resolve({ stdout: "", stderr: "killed\n", exitCode: 124 });
        return Promise.resolve({ stdout: "[]", stderr: "", exitCode: 0 });
      },
    });
    const result = await adapter.apply({ add: ["10.0.0.7"], remove: [] });
    assert.equal(calls, 2);
    assert.deepEqual(result.failed, [{ address: "10.0.0.7", op: "add", reason: "ip -batch failed: killed" }]);
  });

  void test("with the last verified listing: no re-list when ip accepts every line", async () => {
    const ip = new FakeIp("lo");
    ip.addresses.add("10.0.0.1/32").add("10.0.0.2/32");
    const adapter = new IpAddressAdapter({ iface: "lo", run: ip.run });
    const before = new Set(["10.0.0.1", "10.0.0.2"]);
    const r = await adapter.apply({ add: ["10.0.0.3"], remove: ["10.0.0.2"] }, before);
    assert.deepEqual([...r.present].sort(), ["10.0.0.1", "10.0.0.3"]);
    assert.deepEqual(r.failed, []);
    assert.equal(ip.calls.filter((c) => c.argv.includes("show")).length, 0);
    assert.equal(r.present, before, "the caller's set is handed over and updated in place (no copy)");
    // A rejected line (the listing was stale: 10.0.0.9 appeared meanwhile) → the truth is re-listed.
    ip.addresses.add("10.0.0.9/32");
    const stale = await adapter.apply({ add: ["10.0.0.9", "10.0.0.4"], remove: [] }, r.present);
    assert.equal(ip.calls.filter((c) => c.argv.includes("show")).length, 1);
    assert.deepEqual([...stale.present].sort(), ["10.0.0.1", "10.0.0.3", "10.0.0.4", "10.0.0.9"]);
    assert.deepEqual(
      stale.rejected.map((f) => f.address),
      ["10.0.0.9"],
    );
  });

  void test("nothing to do: no batch process at all", async () => {
    const ip = new FakeIp("lo");
    const result = await new IpAddressAdapter({ iface: "lo", run: ip.run }).apply({ add: [], remove: [] });
    assert.equal(ip.batchCalls().length, 0);
    assert.equal(result.batches, 0);
  });
});

void describe("nothing from the cluster reaches ip(8) unvalidated", () => {
  const hostile = [
    "10.0.0.7/32 dev eth0",
    "10.0.0.7\naddress flush dev lo",
    "10.0.0.7 ",
    " 10.0.0.7",
    "10.0.0.07",
    "010.0.0.7",
    "10.0.0.256",
    "10.1",
    "0x0a.0.0.1",
    "FD00::7", // valid, but not canonical
    "fd00:0::7",
    "::ffff:10.0.0.7",
    "64:ff9b::192.0.2.1",
    "fe80::1%lo",
    "",
    "lo",
    "-force",
    "10.0.0.7;reboot",
  ];
  for (const address of hostile) {
    void test(JSON.stringify(address), async () => {
      assert.throws(() => assertSafeAddress(address), InvalidAddressError);
      const ip = new FakeIp("lo");
      const adapter = new IpAddressAdapter({ iface: "lo", run: ip.run });
      // All or nothing: one bad address stops the whole batch before any process starts.
      await assert.rejects(adapter.apply({ add: ["10.0.0.1", address], remove: [] }), InvalidAddressError);
      await assert.rejects(adapter.apply({ add: [], remove: [address] }), InvalidAddressError);
      assert.equal(ip.calls.length, 0);
    });
  }

  void test("canonical addresses pass", () => {
    assert.equal(assertSafeAddress("10.0.0.7"), 4);
    assert.equal(assertSafeAddress("fd00::7"), 6);
    assert.equal(assertSafeAddress("2001:db8::1:0:0:1"), 6);
  });

  void test("interface names are checked once, at construction", () => {
    for (const iface of ["", "lo dev eth0", "lo\n", "-force", "a".repeat(16), "eth0;x"]) {
      assert.throws(() => new IpAddressAdapter({ iface, run: new FakeIp().run }), /interface name/, iface);
    }
    assert.doesNotThrow(() => new IpAddressAdapter({ iface: "vlan.100", run: new FakeIp().run }));
  });
});

void describe("rejectedLines (ip -force stderr)", () => {
  const chunk = batchLines({ add: ["10.0.0.1", "10.0.0.2"], remove: ["fd00::1"] }, "lo");

  void test("maps 'Command failed -:N' to the chunk's Nth line with the preceding error", () => {
    const stderr =
      "Error: ipv4: Address already assigned.\nCommand failed -:2\nError: ipv6: address not found.\nCommand failed -:3\n";
    assert.deepEqual(rejectedLines(chunk, stderr), [
      { address: "10.0.0.2", op: "add", reason: "Error: ipv4: Address already assigned." },
      { address: "fd00::1", op: "remove", reason: "Error: ipv6: address not found." },
    ]);
  });

  void test("a line number outside the chunk is ignored", () => {
    assert.deepEqual(rejectedLines(chunk, "Error: x\nCommand failed -:9\n"), []);
  });
});

void describe("service IPs kept as local routes (advertise.localRoutes)", () => {
  void test("batch lines name the route in full: type, table and our proto", () => {
    assert.deepEqual(
      batchLines(
        { add: ["10.96.0.10", "fd00::10"], remove: ["10.96.0.11", "fd00::11"] },
        "lo",
        "local-route",
      ).map((l) => l.text),
      [
        "route add local 10.96.0.10/32 dev lo table local proto 250",
        "route add local fd00::10/128 dev lo table local proto 250",
        "route del local 10.96.0.11/32 dev lo table local proto 250",
        "route del local fd00::11/128 dev lo table local proto 250",
      ],
    );
    assert.throws(
      () => batchLines({ add: ["10.96.0.10 dev eth0"], remove: [] }, "lo", "local-route"),
      InvalidAddressError,
    );
  });

  void test("the listing: host local routes of any proto (an address's own too), no loopback, subnet or broadcast", () => {
    const v4 = JSON.stringify([
      { type: "local", dst: "10.1.1.1", protocol: "kernel", scope: "host", prefsrc: "10.1.1.1" },
      { type: "local", dst: "10.96.0.10", protocol: "250", scope: "host" },
      { type: "local", dst: "10.96.0.12/32", protocol: "250", scope: "host" },
      { type: "local", dst: "10.9.0.0/24", protocol: "250", scope: "host" },
      { type: "local", dst: "127.0.0.0/8", protocol: "kernel", scope: "host" },
      { type: "local", dst: "127.0.0.1", protocol: "kernel", scope: "host" },
      { type: "broadcast", dst: "127.255.255.255", protocol: "kernel", scope: "link" },
    ]);
    assert.deepEqual([...parseLocalRoutes(v4)].sort(), ["10.1.1.1", "10.96.0.10", "10.96.0.12"]);
    const v6 = JSON.stringify([
      { type: "local", dst: "::1", protocol: "kernel", metric: 0 },
      { type: "local", dst: "fe80::1", protocol: "kernel", metric: 0 },
      { type: "local", dst: "FD00:0::10", protocol: "250", metric: 1024 },
      { type: "local", dst: "fd00::/64", protocol: "250", metric: 1024 },
    ]);
    assert.deepEqual([...parseLocalRoutes(v6)], ["fd00::10"]);
    assert.throws(() => parseLocalRoutes("{}"), IpCommandError);
  });

  void test("list() asks for both families of the local table through the interface", async () => {
    const calls: string[] = [];
    const adapter = new IpAddressAdapter({
      iface: "lo",
      keptAs: "local-route",
      run: (argv) => {
        calls.push(argv.join(" "));
        const dst = argv.includes("-6") ? "fd00::10" : "10.96.0.10";
        return Promise.resolve({ stdout: JSON.stringify([{ type: "local", dst }]), stderr: "", exitCode: 0 });
      },
    });
    assert.deepEqual([...(await adapter.list())], ["10.96.0.10", "fd00::10"]);
    assert.deepEqual(calls, [
      "ip -j -4 route show table local dev lo",
      "ip -j -6 route show table local dev lo",
    ]);
  });

  void test("a kernel without IPv6 lists IPv4 only; any other failure is an error", async () => {
    const adapter = (stderr: string) =>
      new IpAddressAdapter({
        iface: "lo",
        keptAs: "local-route",
        run: (argv) =>
          Promise.resolve(
            argv.includes("-6")
              ? { stdout: "", stderr, exitCode: 2 }
              : { stdout: '[{"type":"local","dst":"10.96.0.10"}]', stderr: "", exitCode: 0 },
          ),
      });
    assert.deepEqual(
      [...(await adapter("RTNETLINK answers: Address family not supported by protocol\n").list())],
      ["10.96.0.10"],
    );
    await assert.rejects(adapter('Cannot find device "lo"\n').list(), IpCommandError);
  });
});
