// When a start may take frr.conf as running: bgpd shows what it showed when FRR last ran a file
// with the same other lines, with exactly the file's network statements.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { VerifiedRecord } from "./verified-record.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "fa-verified-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const routeMap = (community: string) => `route-map FA-A1 permit 10\n set community ${community}\nexit\n`;

/** frr.conf as the templates write it. */
const conf = (nets: string[], extra = "") =>
  `frr defaults datacenter\n${extra}router bgp 64512\n neighbor 10.0.0.1 remote-as 65000\n neighbor 10.0.0.1 password s3cret\n` +
  ` address-family ipv4 unicast\n${nets.map((n) => `  network ${n}\n`).join("")} exit-address-family\nexit\n`;

/** The same as bgpd lists it (header, version, defaults it spells out). */
const shown = (nets: string[], extra = "", bgpExtra = "") =>
  `Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4.4\nfrr defaults datacenter\n${extra}!\n` +
  `router bgp 64512\n${bgpExtra} neighbor 10.0.0.1 remote-as 65000\n neighbor 10.0.0.1 password s3cret\n !\n` +
  ` address-family ipv4 unicast\n${nets.map((n) => `  network ${n}\n`).join("")} exit-address-family\nexit\n!\nend\n`;

test("a start after a drain: bgpd shows what it showed when it last ran the file", async () => {
  const file = join(dir, "drained.verified");
  await new VerifiedRecord(file).remember(conf([]), shown([]));
  const record = new VerifiedRecord(file); // the next process
  assert.equal(await record.runs(conf([]), shown([])), true);
  // The listing's header depends on how it was asked for (vty or vtysh): not part of the verdict.
  assert.equal(await record.runs(conf([]), shown([]).replace("Building configuration...\n", "")), true);
});

test("statements are compared as such: the same other lines with the render's prefixes", async () => {
  const file = join(dir, "statements.verified");
  await new VerifiedRecord(file).remember(conf([]), shown([]));
  const record = new VerifiedRecord(file);
  assert.equal(
    await record.runs(conf(["10.1.0.1/32"]), shown(["10.1.0.1/32"])),
    true,
    "a crash: FRR runs the render",
  );
  assert.equal(await record.runs(conf(["10.1.0.1/32"]), shown([])), false, "FRR lacks a statement");
  assert.equal(await record.runs(conf([]), shown(["10.1.0.9/32"])), false, "FRR runs one the render lacks");
});

test("anything else bgpd runs differently means asking frr-reload.py", async () => {
  const file = join(dir, "differs.verified");
  await new VerifiedRecord(file).remember(conf([]), shown([]));
  const record = new VerifiedRecord(file);
  // A drain cut short after switching graceful shutdown on.
  assert.equal(await record.runs(conf([]), shown([], "", " bgp graceful-shutdown\n")), false);
  // Someone's vtysh change; a route-map the render does not have (or has otherwise).
  assert.equal(await record.runs(conf([]), shown([], "", " neighbor 10.0.0.1 shutdown\n")), false);
  assert.equal(await record.runs(conf([]), shown([], routeMap("65000:1"))), false);
  // Another FRR (an upgraded image) lists the same file otherwise.
  assert.equal(await record.runs(conf([]), shown([]).replace("8.4.4", "10.3")), false);
  // The templates changed.
  assert.equal(await record.runs(conf([], "hostname n1\n"), shown([])), false);
});

test("route-maps count with their bodies, in any order", async () => {
  const file = join(dir, "route-maps.verified");
  const two = routeMap("65000:1") + routeMap("65000:2").replaceAll("FA-A1", "FA-A2");
  const swapped = routeMap("65000:2").replaceAll("FA-A1", "FA-A2") + routeMap("65000:1");
  await new VerifiedRecord(file).remember(conf([], two), shown([], two));
  const record = new VerifiedRecord(file);
  assert.equal(await record.runs(conf([], two), shown([], swapped)), true, "bgpd lists them in its order");
  assert.equal(await record.runs(conf([], routeMap("65000:1")), shown([], two)), false);
  assert.equal(await record.runs(conf([], two), shown([], two.replace("65000:2", "65000:3"))), false);
});

test("no record, a torn one, or one made when the forms differed: never taken as running", async () => {
  const absent = new VerifiedRecord(join(dir, "absent.verified"));
  assert.equal(await absent.runs(conf([]), shown([])), false);
  const tornFile = join(dir, "torn.verified");
  await writeFile(tornFile, '{"format":"frr-advertiser verified-record 1","conf":"ab');
  assert.equal(await new VerifiedRecord(tornFile).runs(conf([]), shown([])), false);
  // FRR lists a statement unlike the file (another spelling): nothing to key a record on.
  const file = join(dir, "forms.verified");
  const record = new VerifiedRecord(file);
  await record.remember(conf([]), shown([]));
  await record.remember(conf(["10.1.0.1/32"]), shown(["10.1.0.0001/32"]));
  assert.equal(await record.runs(conf([]), shown([])), false, "the earlier record is gone too");
  assert.equal(await new VerifiedRecord(file).runs(conf([]), shown([])), false);
});

test("the record holds digests only: no password from either text", async () => {
  const file = join(dir, "secret.verified");
  await new VerifiedRecord(file).remember(conf([]), shown([]));
  const text = await readFile(file, "utf8");
  assert.ok(!text.includes("s3cret"), text);
  assert.match(text, /"conf":"[0-9a-f]{64}","shown":"[0-9a-f]{64}"/);
});
