// frr-reload.py --test output → diff, and which diffs are not drift (FRR 8.4 and 10.3 outputs);
// the ASN of the BGP instance bgpd runs.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Runner } from "../exec.js";
import { FrrClient, isEmptyDiff, parseReloadDiff, runningAsn } from "./frr-client.js";

// Seen on FRR 10.3 (Debian 13) in containers right after a reload of the same file.
const FRR_10_3_NOOP = `
Lines To Delete
===============
no hostname 5e941a491b8d
ipv6 forwarding
no hostname 6b512cff45ce

Lines To Add
============
hostname node-a
ip forwarding
ipv6 forwarding
service integrated-vtysh-config
`;

test("a no-op reload on FRR 10.3 in a container is not drift", () => {
  const d = parseReloadDiff(FRR_10_3_NOOP);
  assert.deepEqual(d.toDelete, ["no hostname 5e941a491b8d", "ipv6 forwarding", "no hostname 6b512cff45ce"]);
  assert.equal(isEmptyDiff(d), true);
});

test("a network line or a neighbour in either list is drift", () => {
  assert.equal(isEmptyDiff({ toDelete: ["router bgp 64512 network 10.96.0.10/32"], toAdd: [] }), false);
  assert.equal(
    isEmptyDiff({ toDelete: [], toAdd: ["router bgp 64512 neighbor 192.0.2.1 remote-as external"] }),
    false,
  );
});

test("the running ASN is the default instance's, never a VRF's", () => {
  const conf =
    "frr version 8.4.4\n!\nrouter bgp 65010 vrf blue\nexit\n!\nrouter bgp 65001\n bgp router-id 192.0.2.0\nexit\n";
  assert.equal(runningAsn(conf), 65001);
  assert.throws(() => runningAsn("frr version 8.4.4\n!\n"), /no default BGP instance/);
});

test("this container's vtysh version is read once; a failed read is tried again", async () => {
  const calls: string[] = [];
  let fail = true;
  const run: Runner = (argv) => {
    calls.push(argv.join(" "));
    if (fail) return Promise.resolve({ stdout: "", stderr: "vtysh: not found", exitCode: 127 });
    return Promise.resolve({
      stdout: "Usage : vtysh [OPTION...]\n\n(version 10.3)\n",
      stderr: "",
      exitCode: 0,
    });
  };
  const frr = new FrrClient(run, {
    vtysh: "/usr/bin/vtysh",
    reloadScript: "/usr/lib/frr/frr-reload.py",
    pathspace: "",
    workDir: "/tmp",
    reloadTimeoutMs: 1000,
  });
  await assert.rejects(frr.toolsVersion(), /cannot read the version/);
  fail = false;
  assert.equal(await frr.toolsVersion(), "10.3");
  assert.equal(await frr.toolsVersion(), "10.3");
  assert.deepEqual(calls, ["/usr/bin/vtysh --help", "/usr/bin/vtysh --help"]);
});

test("the read-back says which form answered: text when it adds up to its total, else JSON", async () => {
  const table = (rows: string, total: number) =>
    `   Network          Next Hop            Metric LocPrf Weight Path\n${rows}\nTotal number of prefixes ${total}\n`;
  const answers = [
    table("*> 10.96.0.2/32     0.0.0.0                  0         32768 i", 1),
    // A layout the text parser cannot count (one row, a total of two): the JSON form is asked.
    table("*> 10.96.0.2/32     0.0.0.0                  0         32768 i", 2),
    JSON.stringify({ advertisedRoutes: { "10.96.0.2/32": {}, "10.96.0.3/32": {} } }),
  ];
  const forms: string[] = [];
  const asked: string[] = [];
  const run: Runner = (argv) => {
    asked.push(argv.at(-1) ?? "");
    return Promise.resolve({ stdout: answers.shift() ?? "", stderr: "", exitCode: 0 });
  };
  const frr = new FrrClient(run, {
    vtysh: "vtysh",
    reloadScript: "frr-reload.py",
    pathspace: "",
    workDir: "/tmp",
    reloadTimeoutMs: 1000,
    onReadBack: (form) => forms.push(form),
  });
  assert.deepEqual([...(await frr.advertisedRoutes("192.0.2.1", "ipv4"))], ["10.96.0.2/32"]);
  assert.deepEqual([...(await frr.advertisedRoutes("192.0.2.1", "ipv4"))].sort(), [
    "10.96.0.2/32",
    "10.96.0.3/32",
  ]);
  assert.deepEqual(forms, ["text", "json"]);
  assert.equal(asked.filter((c) => c.endsWith(" json")).length, 1, "JSON only when the text did not add up");
});
