// The two delta transports of FrrClient.applyCommands (kept-open vty connection to bgpd, and
// `vtysh -f`) against real FRR in the netns lab: a batch reaches the tor, a rejected line fails
// the batch and stops it there, and the vty connection survives a bgpd restart. Graceful shutdown
// (RFC 8326) on both: the tor sees GRACEFUL_SHUTDOWN on the route and then no more; a rejected
// `router bgp` leaves FRR without any graceful shutdown.
// Skipped when the machine cannot run the lab, except where skips are not allowed (requireTool).
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createRunner } from "../../sidecar/src/exec.js";
import { FrrClient } from "../../sidecar/src/frr/frr-client.js";
import { requireTool } from "../support/require-tool.js";
import {
  createLab,
  FRR_RUN_DIR,
  hasAll,
  hasNone,
  LAB_REQUIREMENTS,
  minimalNodeConfig,
  type Lab,
} from "./netns-lab.js";

const skip = requireTool(LAB_REQUIREMENTS, { for: "netns lab" });
const WAIT = 15_000;

function delta(lab: Lab, lines: readonly string[]): string[] {
  return [
    `router bgp ${lab.nodeAsn}`,
    " address-family ipv4 unicast",
    ...lines.map((l) => `  ${l}`),
    " exit-address-family",
    "exit",
  ];
}

void describe("FrrClient delta transports against real FRR", { skip }, () => {
  let lab: Lab;
  const clients = new Map<string, FrrClient>();

  before(async () => {
    lab = await createLab({ nodeConfig: minimalNodeConfig });
    for (const ip of ["10.96.7.1", "10.96.7.2", "10.96.7.3", "10.96.7.4", "10.96.7.5"])
      await lab.exec("node", ["ip", "addr", "add", `${ip}/32`, "dev", "lo"]);
    await lab.waitForSession(WAIT);
    for (const transport of ["vty", "vtysh"]) clients.set(transport, frrClient(transport));
  });
  const frrClient = (transport: string, bgpAsn?: number): FrrClient =>
    new FrrClient(createRunner(30_000), {
      vtysh: "/usr/bin/vtysh",
      reloadScript: "/usr/lib/frr/frr-reload.py",
      pathspace: lab.nodeNs,
      workDir: lab.confDir,
      reloadTimeoutMs: 30_000,
      bgpdVtySocket: transport === "vty" ? join(FRR_RUN_DIR, lab.nodeNs, "bgpd.vty") : undefined,
      bgpAsn,
    });
  after(async () => {
    for (const c of clients.values()) c.disconnect();
    await lab.destroy();
  });

  const client = (t: string): FrrClient => {
    const c = clients.get(t);
    assert.ok(c);
    return c;
  };
  const batchFile = (): string => join(lab.confDir, ".delta-test.conf");

  for (const [transport, ip] of [
    ["vty", "10.96.7.1"],
    ["vtysh", "10.96.7.2"],
  ] as const) {
    void it(`${transport}: a batch of network lines reaches the tor, and its removal too`, async () => {
      await client(transport).applyCommands(delta(lab, [`network ${ip}/32`]), batchFile());
      await lab.waitForTorRoutes(hasAll(`${ip}/32`), WAIT, { family: 4 });
      await client(transport).applyCommands(delta(lab, [`no network ${ip}/32`]), batchFile());
      await lab.waitForTorRoutes(hasNone(`${ip}/32`), WAIT, { family: 4 });
    });
  }

  for (const transport of ["vty", "vtysh"] as const) {
    void it(`${transport}: a line FRR rejects fails the batch`, async () => {
      await assert.rejects(
        client(transport).applyCommands(delta(lab, ["network 10.96.7.300/32"]), batchFile()),
      );
      // Still usable afterwards (the vty client reconnects in enable mode).
      await client(transport).applyCommands(delta(lab, ["network 10.96.7.3/32"]), batchFile());
      await lab.waitForTorRoutes(hasAll("10.96.7.3/32"), WAIT, { family: 4 });
      await client(transport).applyCommands(delta(lab, ["no network 10.96.7.3/32"]), batchFile());
    });
  }

  /** Polls the tor until its route for `prefix` carries GRACEFUL_SHUTDOWN (or no longer does). */
  const torGracefulShutdown = async (prefix: string, want: boolean): Promise<void> => {
    const deadline = Date.now() + WAIT;
    for (;;) {
      const out = await lab.vtysh("tor", `show bgp ipv4 unicast ${prefix} json`);
      const paths = (JSON.parse(out) as { paths?: { community?: { list?: string[] } }[] }).paths ?? [];
      const has = paths.some((p) => p.community?.list?.includes("gracefulShutdown") === true);
      if (paths.length > 0 && has === want) return;
      if (Date.now() > deadline) assert.fail(`tor route ${prefix} gracefulShutdown ${String(!want)}: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  for (const transport of ["vty", "vtysh"] as const) {
    void it(`${transport}: graceful shutdown puts GRACEFUL_SHUTDOWN on the route at the tor, and takes it off`, async () => {
      // The ASN comes from bgpd's running config here (no bgpAsn given).
      const prefix = "10.96.7.5/32";
      await client(transport).applyCommands(delta(lab, [`network ${prefix}`]), batchFile());
      await lab.waitForTorRoutes(hasAll(prefix), WAIT, { family: 4 });
      await client(transport).gracefulShutdown(true);
      await torGracefulShutdown(prefix, true);
      await client(transport).gracefulShutdown(false);
      await torGracefulShutdown(prefix, false);
      await client(transport).applyCommands(delta(lab, [`no network ${prefix}`]), batchFile());
    });

    void it(`${transport}: a rejected router bgp (another ASN) switches no graceful shutdown on`, async () => {
      const wrong = frrClient(transport, lab.nodeAsn + 1);
      try {
        await assert.rejects(wrong.gracefulShutdown(true));
      } finally {
        wrong.disconnect();
      }
      assert.doesNotMatch(await lab.vtysh("node", "show running-config"), /graceful-shutdown/);
    });
  }

  void it("vty: a 5,000-line batch (pipelined) is applied in full, and removed in full", async () => {
    const nets = Array.from({ length: 5000 }, (_, i) => `10.98.${i >> 8}.${i & 255}/32`);
    const count = async (): Promise<number> =>
      [...(await lab.vtysh("node", "show running-config")).matchAll(/^\s*network 10\.98\./gm)].length;
    await client("vty").applyCommands(
      delta(
        lab,
        nets.map((n) => `network ${n}`),
      ),
      batchFile(),
    );
    assert.equal(await count(), 5000);
    await client("vty").applyCommands(
      delta(
        lab,
        nets.map((n) => `no network ${n}`),
      ),
      batchFile(),
    );
    assert.equal(await count(), 0);
  });

  void it("bgpSummary over the vty connection equals vtysh's", async () => {
    // Counters that move between two reads: time, messages, and the RIB while bgpd still
    // digests the previous test's 5,000-line removal.
    const strip = (j: unknown): unknown =>
      JSON.parse(
        JSON.stringify(j, (k, v: unknown) =>
          /^(peerUptime|peerUptimeMsec|peerUptimeEstablishedEpoch|msgRcvd|msgSent|tableVersion|ribCount|ribMemory|pfxSnt|pfxRcd)$/.test(
            k,
          )
            ? undefined
            : v,
        ),
      );
    const viaVty = strip(await client("vty").bgpSummary()) as { ipv4Unicast?: { peers?: object } };
    const viaVtysh = strip(await client("vtysh").bgpSummary());
    assert.ok(viaVty.ipv4Unicast?.peers, "IPv4 peers present");
    assert.deepEqual(viaVty, viaVtysh);
  });

  void it("vty: a batch after bgpd restarted goes over a new connection", async () => {
    await client("vty").applyCommands(delta(lab, ["network 10.96.7.4/32"]), batchFile());
    await lab.killDaemon("bgpd");
    await lab.startDaemon("bgpd");
    await lab.waitForSession(WAIT);
    // The old connection died with bgpd; the restarted bgpd read frr.conf (without 10.96.7.4).
    await client("vty").applyCommands(delta(lab, ["network 10.96.7.4/32"]), batchFile());
    await lab.waitForTorRoutes(hasAll("10.96.7.4/32"), WAIT, { family: 4 });
  });
});
