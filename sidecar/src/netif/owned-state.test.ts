import assert from "node:assert/strict";
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { OwnedAddressStore } from "./owned-state.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "fa-owned-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function store(name: string, iface = "lo", boot = "boot-1") {
  const warnings: string[] = [];
  const s = new OwnedAddressStore({
    path: join(dir, name),
    iface,
    warn: (m) => warnings.push(m),
    bootId: () => Promise.resolve(boot),
  });
  return { s, warnings };
}

void describe("OwnedAddressStore", () => {
  void test("missing file → empty set, no warning", async () => {
    const { s, warnings } = store("missing.json");
    assert.deepEqual(await s.loadDetailed(), { addresses: new Set(), status: "missing" });
    assert.deepEqual(warnings, []);
  });

  void test("round trip: sorted, canonical, interface recorded, no temp files left", async () => {
    const { s } = store("state/nested/owned.json"); // directories are created
    await s.save(new Set(["fd00::7", "10.0.0.10", "10.0.0.9", "FD00:0::7"]));
    assert.deepEqual([...(await s.load())], ["10.0.0.9", "10.0.0.10", "fd00::7"]);
    const file = JSON.parse(await readFile(join(dir, "state/nested/owned.json"), "utf8")) as unknown;
    assert.deepEqual(file, {
      version: 1,
      iface: "lo",
      addresses: ["10.0.0.9", "10.0.0.10", "fd00::7"],
      generation: 1,
      bootId: "boot-1",
    });
    assert.deepEqual((await readdir(join(dir, "state/nested"))).sort(), ["owned.json", "owned.json.journal"]);
    assert.equal((await stat(join(dir, "state/nested/owned.json"))).mode & 0o777, 0o600);
  });

  void test("save replaces the previous set", async () => {
    const { s } = store("replace.json");
    await s.save(["10.0.0.1", "10.0.0.2"]);
    await s.save(["10.0.0.3"]);
    assert.deepEqual([...(await s.load())], ["10.0.0.3"]);
  });

  void test("a file for another interface is ignored (with a warning) and left alone", async () => {
    await store("other.json", "svc0").s.save(["10.0.0.1"]);
    const { s, warnings } = store("other.json", "lo");
    assert.deepEqual(await s.loadDetailed(), { addresses: new Set(), status: "other-interface" });
    assert.match(warnings[0] ?? "", /interface svc0, not lo/);
    assert.deepEqual([...(await store("other.json", "svc0").s.load())], ["10.0.0.1"]);
  });

  const corrupt: [string, string][] = [
    ["torn JSON", '{"version":1,"iface":"lo","addre'],
    ["empty file", ""],
    ["not an object", "[]"],
    ["unknown version", '{"version":2,"iface":"lo","addresses":[]}'],
    ["no addresses", '{"version":1,"iface":"lo"}'],
    ["a bad entry discredits the file", '{"version":1,"iface":"lo","addresses":["10.0.0.1","10.0.0.1/32"]}'],
    ["non-canonical entry", '{"version":1,"iface":"lo","addresses":["FD00::1"]}'],
    ["non-string entry", '{"version":1,"iface":"lo","addresses":[167772161]}'],
  ];
  for (const [name, text] of corrupt) {
    void test(`corrupt (${name}) → empty set, warning, file moved aside`, async () => {
      const file = `corrupt-${name.replaceAll(" ", "-")}.json`;
      await writeFile(join(dir, file), text);
      const { s, warnings } = store(file);
      assert.deepEqual(await s.loadDetailed(), { addresses: new Set(), status: "corrupt" });
      assert.equal(warnings.length, 1);
      assert.equal(await readFile(join(dir, `${file}.corrupt`), "utf8"), text);
      assert.equal((await s.loadDetailed()).status, "missing");
    });
  }

  void test("record appends to the journal; a new process loads snapshot + journal", async () => {
    const { s } = store("journal.json");
    await s.save(["10.0.0.1", "10.0.0.2"]);
    const snapshot = await readFile(join(dir, "journal.json"), "utf8");
    await s.record({ add: ["10.0.0.3"], remove: ["10.0.0.1"] });
    await s.record({ add: ["fd00::3"], remove: [] });
    assert.equal(
      await readFile(join(dir, "journal.json"), "utf8"),
      snapshot,
      "the snapshot is not rewritten",
    );
    assert.equal(
      await readFile(join(dir, "journal.json.journal"), "utf8"),
      "# frr-advertiser owned-address journal, generation 1\n+10.0.0.3\n-10.0.0.1\n+fd00::3\n",
    );
    assert.deepEqual([...(await store("journal.json").s.load())].sort(), ["10.0.0.2", "10.0.0.3", "fd00::3"]);
  });

  void test("the first record without a snapshot writes one (what an operator looks at)", async () => {
    const { s } = store("journal-only.json");
    await s.record({ add: ["10.0.0.5"], remove: [] });
    const file = JSON.parse(await readFile(join(dir, "journal-only.json"), "utf8")) as {
      addresses: string[];
    };
    assert.deepEqual(file.addresses, ["10.0.0.5"]);
    assert.deepEqual(await store("journal-only.json").s.loadDetailed(), {
      addresses: new Set(["10.0.0.5"]),
      status: "loaded",
    });
  });

  void test("a journal as long as the set is compacted into a new snapshot", async () => {
    const { s } = store("compact.json");
    await s.save(["10.9.9.9"]); // stays owned: the set never empties (that is a snapshot of its own)
    // Churn: 100 addresses come and go; the set stays small, the journal would grow without bound.
    const some = Array.from({ length: 100 }, (_, i) => `10.1.0.${i}`);
    for (let round = 0; round < 6; round++) {
      await s.record({ add: some, remove: [] });
      await s.record({ add: [], remove: some });
    }
    await s.record({ add: ["10.2.0.1"], remove: [] });
    const file = JSON.parse(await readFile(join(dir, "compact.json"), "utf8")) as { generation: number };
    assert.equal(file.generation, 2, "one compaction (after 1024 entries)");
    const journal = await readFile(join(dir, "compact.json.journal"), "utf8");
    assert.ok(journal.split("\n").length < 300, "the journal restarted after the compaction");
    assert.deepEqual([...(await store("compact.json").s.load())].sort(), ["10.2.0.1", "10.9.9.9"]);
  });

  void test("a cut last line is dropped, and the next record does not append to it", async () => {
    const { s } = store("torn.json");
    await s.save(["10.0.0.1"]);
    await s.record({ add: ["10.0.0.2"], remove: [] });
    await appendFile(join(dir, "torn.json.journal"), "+10.0.0.");
    const next = store("torn.json");
    assert.deepEqual([...(await next.s.load())].sort(), ["10.0.0.1", "10.0.0.2"]);
    assert.deepEqual(next.warnings, []);
    await next.s.record({ add: ["10.0.0.4"], remove: [] });
    assert.deepEqual([...(await store("torn.json").s.load())].sort(), ["10.0.0.1", "10.0.0.2", "10.0.0.4"]);
  });

  void test("a journal of another generation (a crash mid-compaction) is ignored", async () => {
    const { s } = store("stale.json");
    await s.save(["10.0.0.1"]);
    await writeFile(
      join(dir, "stale.json.journal"),
      "# frr-advertiser owned-address journal, generation 0\n+10.0.0.9\n",
    );
    assert.deepEqual([...(await store("stale.json").s.load())], ["10.0.0.1"]);
  });

  void test("a bad journal line discredits the record: empty set, both files moved aside", async () => {
    const { s } = store("badjournal.json");
    await s.save(["10.0.0.1"]);
    await appendFile(join(dir, "badjournal.json.journal"), "+10.0.0.300\n-10.0.0.1\n");
    const next = store("badjournal.json");
    assert.deepEqual(await next.s.loadDetailed(), { addresses: new Set(), status: "corrupt" });
    assert.match(next.warnings[0] ?? "", /journal .* unreadable \(bad line/);
    assert.equal((await store("badjournal.json").s.loadDetailed()).status, "missing");
  });

  void test("a record from before a reboot owns nothing; the next record starts afresh", async () => {
    const { s } = store("reboot.json", "lo", "boot-1");
    await s.save(["10.0.0.1"]);
    await s.record({ add: ["10.0.0.2"], remove: [] });
    const after = store("reboot.json", "lo", "boot-2");
    assert.deepEqual(await after.s.loadDetailed(), { addresses: new Set(), status: "other-boot" });
    assert.match(after.warnings[0] ?? "", /rebooted/);
    await after.s.record({ add: ["10.0.0.7"], remove: [] });
    assert.deepEqual([...(await store("reboot.json", "lo", "boot-2").s.load())], ["10.0.0.7"]);
  });

  void test("a record that cannot be written changes nothing, in the file or in memory", async () => {
    const { s } = store("unwritable.json");
    await s.save(["10.0.0.1"]);
    // The journal's place taken by a directory: the append fails.
    await rm(join(dir, "unwritable.json.journal"));
    await mkdir(join(dir, "unwritable.json.journal"));
    await assert.rejects(s.record({ add: ["10.0.0.2"], remove: ["10.0.0.1"] }));
    await rm(join(dir, "unwritable.json.journal"), { recursive: true });
    // A record large enough to compact writes what memory holds plus itself.
    const many = Array.from({ length: 1100 }, (_, i) => `10.2.${i >> 8}.${i & 255}`);
    await s.record({ add: many, remove: [] });
    const after = await store("unwritable.json").s.load();
    assert.deepEqual([after.size, after.has("10.0.0.1"), after.has("10.0.0.2")], [1101, true, false]);
  });

  void test("nothing left owned (a drain): the snapshot itself is empty", async () => {
    const { s } = store("drained.json");
    await s.save(["10.0.0.1", "10.0.0.2"]);
    await s.record({ add: ["10.0.0.3"], remove: [] });
    await s.record({ add: [], remove: ["10.0.0.1", "10.0.0.2", "10.0.0.3"] });
    const file = JSON.parse(await readFile(join(dir, "drained.json"), "utf8")) as { addresses: string[] };
    assert.deepEqual(file.addresses, []);
    assert.deepEqual([...(await store("drained.json").s.load())], []);
  });

  void test("record refuses a non-canonical address", async () => {
    await assert.rejects(store("noncanon.json").s.record({ add: ["FD00::1"], remove: [] }), /not canonical/);
  });

  void test("an unreadable path is an error, not 'nothing owned'", async () => {
    const { s } = store("."); // a directory: EISDIR
    await assert.rejects(s.load(), /EISDIR/);
  });
});
