// End-to-end checks of the netns FRR lab (needs root, frr, frr-pythontools, iproute2).
// Skipped when the machine cannot run it, except where skips are not allowed (requireTool).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { requireTool } from "../support/require-tool.js";
import {
  createLab,
  FRR_RUN_DIR,
  hasAll,
  hasNone,
  LAB_PREFIX,
  LAB_REQUIREMENTS,
  minimalNodeConfig,
  sweepStaleLabs,
  type Lab,
} from "./netns-lab.js";

const skip = requireTool(LAB_REQUIREMENTS, { for: "netns lab" });

const WAIT = 10_000;
const V4 = "10.96.0.10/32";
const V6 = "fd00:96::10/128";

async function netnsList(): Promise<string[]> {
  const r = await execa("ip", ["netns", "list"]);
  return r.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter(Boolean);
}

async function announce(lab: Lab, prefix: string, on = true): Promise<void> {
  const afi = prefix.includes(":") ? "ipv6" : "ipv4";
  await lab.vtysh(
    "node",
    "configure terminal",
    `router bgp ${lab.nodeAsn}`,
    `address-family ${afi} unicast`,
    `${on ? "" : "no "}network ${prefix}`,
  );
}

void describe("netns lab, numbered", { skip }, () => {
  let lab: Lab;

  before(async () => {
    lab = await createLab({ nodeConfig: minimalNodeConfig });
  });
  after(async () => {
    await lab.destroy();
  });

  void it("creates the namespaces, the veth and the addresses", async () => {
    const names = await netnsList();
    assert.ok(names.includes(lab.nodeNs) && names.includes(lab.torNs));
    assert.ok(lab.nodeIf.length <= 15 && lab.torIf.length <= 15);
    const addrs = await lab.nodeAddresses(lab.nodeIf);
    assert.ok(addrs.includes(`${lab.nodeAddr4}/31`), addrs.join(" "));
    assert.ok(addrs.includes(`${lab.nodeAddr6}/127`), addrs.join(" "));
    assert.ok(existsSync(lab.confFile));
  });

  void it("establishes the session", async () => {
    await lab.waitForSession(WAIT);
    const sessions = await lab.torSessions();
    assert.ok(sessions.length > 0);
    assert.ok(sessions.every((s) => s.state === "Established"));
  });

  void it("carries a network statement to the tor's BGP table and FIB, and withdraws it", async () => {
    await lab.exec("node", ["ip", "addr", "add", V4, "dev", "lo"]); // import-check: must be in the RIB
    await announce(lab, V4);
    await lab.waitForTorRoutes(hasAll(V4), WAIT, { family: 4 });
    await lab.waitForTorRoutes(hasAll(V4), WAIT, { family: 4, source: "fib" });
    assert.ok((await lab.torFibRoutes(4)).has(V4));

    await announce(lab, V4, false);
    await lab.waitForTorRoutes(hasNone(V4), WAIT, { family: 4 });
    await lab.waitForTorRoutes(hasNone(V4), WAIT, { family: 4, source: "fib" });
  });

  void it("carries IPv6 over the IPv4 session, next hop on the node's veth", async () => {
    await lab.exec("node", ["ip", "addr", "add", V6, "dev", "lo"]);
    await announce(lab, V6);
    await lab.waitForTorRoutes(hasAll(V6), WAIT, { family: 6, source: "fib" });
    const r = await lab.exec("tor", ["ip", "-6", "-j", "route", "show", V6]);
    const [route] = JSON.parse(r.stdout) as { gateway?: string }[];
    // FRR sends the global (fd00:0:2::a) and the link-local next hop and installs the link-local one.
    const nodeVeth = (await lab.nodeAddresses(lab.nodeIf)).map((a) => a.split("/")[0]);
    assert.ok(nodeVeth.includes(route?.gateway), `${route?.gateway} not in ${nodeVeth.join(" ")}`);
  });

  void it("applies a config with frr-reload.py from confDir", async () => {
    await lab.exec("node", ["ip", "addr", "add", "10.96.0.11/32", "dev", "lo"]);
    await writeFile(lab.confFile, minimalNodeConfig(lab, { networks: ["10.96.0.11/32", V6] }));
    const [cmd, ...args] = lab.frrReloadArgs(lab.confFile);
    await execa(cmd!, args);
    await lab.waitForTorRoutes(hasAll("10.96.0.11/32", V6), WAIT);
  });

  void it("re-establishes the session after bgpd is killed and restarted", async () => {
    const before = await lab.torSessions();
    await lab.killDaemon("bgpd", "SIGKILL");
    await lab.waitForTorRoutes(hasNone("10.96.0.11/32"), WAIT, { family: 4 });
    await lab.startDaemon("bgpd");
    await lab.waitForSession(WAIT);
    const now = await lab.torSessions();
    assert.ok(now[0]!.established > before[0]!.established, "a new connection was established");
    // bgpd re-read frr.conf from confDir: the reloaded network is back.
    await lab.waitForTorRoutes(hasAll("10.96.0.11/32", V6), WAIT);
  });

  void it("gives a clear error when waiting times out", async () => {
    await assert.rejects(
      lab.waitForTorRoutes(hasAll("10.96.0.99/32"), 100, { family: 4 }),
      /10\.96\.0\.11\/32/,
    );
  });

  void it("destroy removes everything and is idempotent", async () => {
    await lab.destroy();
    await lab.destroy();
    const mine = (await netnsList()).filter((n) => n.startsWith(lab.id));
    assert.deepEqual(mine, []);
    assert.equal(existsSync(lab.dir), false);
    assert.equal(existsSync(join(FRR_RUN_DIR, lab.nodeNs)), false);
  });
});

void describe("netns lab, unnumbered", { skip }, () => {
  let lab: Lab;

  before(async () => {
    lab = await createLab({ unnumbered: true, nodeAsn: 65101, torAsn: 65100, nodeConfig: minimalNodeConfig });
  });
  after(async () => {
    await lab.destroy();
  });

  void it("has only link-local addresses on the veth", async () => {
    assert.equal(lab.nodeAddr4, null);
    const addrs = await lab.nodeAddresses(lab.nodeIf);
    assert.ok(addrs.length > 0 && addrs.every((a) => a.startsWith("fe80:")), addrs.join(" "));
  });

  void it("carries an IPv6 /128 and an IPv4 /32 with an IPv6 next hop", async () => {
    await lab.waitForSession(WAIT);
    for (const p of [V4, V6]) await lab.exec("node", ["ip", "addr", "add", p, "dev", "lo"]);
    await announce(lab, V4);
    await announce(lab, V6);
    await lab.waitForTorRoutes(hasAll(V4, V6), WAIT);
    await lab.waitForTorRoutes(hasAll(V4, V6), WAIT, { source: "fib" });
    const r = await lab.exec("tor", ["ip", "-j", "route", "show", V4]);
    const [route] = JSON.parse(r.stdout) as { via?: { family?: string; host?: string } }[];
    assert.equal(route?.via?.family, "inet6", r.stdout);
    assert.match(route.via.host ?? "", /^fe80:/);
  });

  void it("re-establishes the session after bgpd is stopped (SIGTERM) and started", async () => {
    await lab.killDaemon("bgpd", "SIGTERM");
    await lab.waitForTorRoutes(hasNone(V4, V6), WAIT);
    await lab.startDaemon("bgpd");
    await lab.waitForSession(WAIT);
    // The vtysh-added networks are gone with the restart (frr.conf has none); the session is back.
    assert.deepEqual([...(await lab.torRoutes(4))], []);
  });
});

void describe("netns lab, two nodes behind one tor", { skip }, () => {
  let lab: Lab;
  let second: Lab;

  before(async () => {
    lab = await createLab({ nodes: 2, nodeConfig: minimalNodeConfig });
    second = lab.nodes[1]!;
  });
  after(async () => {
    await lab.destroy();
  });

  void it("gives each node its own namespace, veth, addresses and FRR", async () => {
    assert.equal(lab.nodes.length, 2);
    assert.equal(lab.nodes[0], lab);
    assert.deepEqual([lab.index, second.index], [0, 1]);
    assert.equal(second.torNs, lab.torNs);
    const names = await netnsList();
    for (const ns of [lab.nodeNs, second.nodeNs, lab.torNs]) assert.ok(names.includes(ns), ns);
    assert.notEqual(second.nodeNs, lab.nodeNs);
    assert.notEqual(second.confFile, lab.confFile);
    assert.ok(second.nodeIf.length <= 15 && second.torIf.length <= 15);
    assert.ok((await second.nodeAddresses(second.nodeIf)).includes("192.0.2.2/31"));
    assert.match(await second.vtysh("node", "show bgp summary"), /192\.0\.2\.3/);
  });

  void it("establishes both sessions; the same prefix from both nodes is ECMP at the tor", async () => {
    await lab.waitForSession(WAIT);
    assert.equal((await lab.torSessions()).filter((s) => s.afi === "ipv4Unicast").length, 2);
    for (const n of lab.nodes) {
      await n.exec("node", ["ip", "addr", "add", V4, "dev", "lo"]);
      await announce(n, V4);
    }
    const ecmp = async (): Promise<boolean> => {
      const hops = (await lab.torFibNextHops(4)).get(V4) ?? [];
      return (
        hops
          .map((h) => h.node)
          .sort()
          .join() === "0,1"
      );
    };
    const deadline = Date.now() + WAIT;
    while (!(await ecmp())) {
      assert.ok(Date.now() < deadline, "no ECMP route with both nodes in the tor's FIB");
      await new Promise((r) => setTimeout(r, 50));
    }
    const paths = await lab.torPaths(V4);
    assert.deepEqual(paths.map((p) => p.node).sort(), [0, 1]);
    assert.ok(paths.every((p) => p.valid && p.multipath));
    assert.equal(paths.filter((p) => p.bestpath).length, 1);
  });

  void it("one node's bgpd gone: the tor keeps the other node's path", async () => {
    await second.killDaemon("bgpd", "SIGKILL");
    const deadline = Date.now() + WAIT;
    while ((await lab.torPaths(V4)).length !== 1) {
      assert.ok(Date.now() < deadline, "node 1's path never went");
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      (await lab.torPaths(V4)).map((p) => p.node),
      [0],
    );
  });

  void it("destroy of any node's view removes every namespace and file", async () => {
    await second.destroy();
    const mine = (await netnsList()).filter((n) => n.startsWith(lab.id));
    assert.deepEqual(mine, []);
    assert.equal(existsSync(lab.dir), false);
    assert.equal(existsSync(join(FRR_RUN_DIR, second.nodeNs)), false);
  });
});

void describe("sweepStaleLabs", { skip }, () => {
  void it("removes the lab of a process that died without cleaning up", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/orphan-lab.ts", import.meta.url));
    const child = await execa(process.execPath, ["--import", "tsx", fixture], { reject: false });
    assert.equal(child.signal, "SIGKILL", child.stderr);
    const orphan = JSON.parse(child.stdout) as {
      nodeNs: string;
      node1Ns: string;
      torNs: string;
      dir: string;
    };
    assert.ok((await netnsList()).includes(orphan.nodeNs), "the orphan is there before the sweep");
    assert.ok((await netnsList()).includes(orphan.node1Ns), "its second node too");

    const removed = await sweepStaleLabs();
    const all = [orphan.nodeNs, orphan.node1Ns, orphan.torNs];
    assert.ok(
      all.every((ns) => removed.includes(ns)),
      removed.join(" "),
    );
    const names = await netnsList();
    assert.ok(all.every((ns) => !names.includes(ns)));
    assert.equal(existsSync(orphan.dir), false);
  });

  void it("leaves no namespace of this process behind", async () => {
    const mine = (await netnsList()).filter(
      (n) => n.startsWith(LAB_PREFIX) && n.includes(`-${process.pid}-`),
    );
    assert.deepEqual(mine, []);
  });
});
