import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
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

function store(name: string, iface = "lo") {
  const warnings: string[] = [];
  const s = new OwnedAddressStore({ path: join(dir, name), iface, warn: (m) => warnings.push(m) });
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
    assert.deepEqual(file, { version: 1, iface: "lo", addresses: ["10.0.0.9", "10.0.0.10", "fd00::7"] });
    assert.deepEqual(await readdir(join(dir, "state/nested")), ["owned.json"]);
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

  void test("an unreadable path is an error, not 'nothing owned'", async () => {
    const { s } = store("."); // a directory: EISDIR
    await assert.rejects(s.load(), /EISDIR/);
  });
});
