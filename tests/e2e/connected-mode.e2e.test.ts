// End to end, advertise.mode connected read at the tor: service addresses on a dedicated interface,
// redistributed through FRR's route-map — ready/unready (no FRR call), communities and MED, and
// someone else's addresses outside the allowed CIDRs (or excluded) never announced; IPv4 and IPv6.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { execa } from "execa";
import { hasAll, hasNone, type Family, type TorPath } from "../lab/netns-lab.js";
import { service, slice, type SidecarLab, type SidecarProcess } from "./harness.js";
import {
  assertDiskEqualsRunning,
  networkLinesOnDisk,
  ownedAddresses,
  ROUTE_WAIT,
  SETUP_TIMEOUT,
  SKIP,
  startedSidecarLab,
  TEST_TIMEOUT,
  waitUntil,
  withDiagnostics,
} from "./e2e-helpers.js";

/** The dedicated interface, in the node's namespace only (the harness creates it). */
const IFACE = "kube-lb";

const WEB = { v4: "10.96.0.10", v6: "fd00:96::10" };
const TAGGED = { v4: "10.96.0.20", v6: "fd00:96::20" };
const MARKER = { v4: "10.96.0.30", v6: "fd00:96::30" };
/** Someone else's addresses on the interface: outside the allowed CIDRs, and an excluded IP. */
const OUTSIDE = ["198.51.100.7/32", "2001:db8:7::7/128"];
const EXCLUDED = "10.96.0.1/32";

const ATTRIBUTES = {
  "frr-advertiser.io/communities": "65000:7 65000:8",
  "frr-advertiser.io/med": "50",
};

const v4 = (a: { v4: string }): string => `${a.v4}/32`;
const v6 = (a: { v6: string }): string => `${a.v6}/128`;

/** A dual-stack Service with one ready (or not) endpoint per family. */
function dualStack(name: string, ips: { v4: string; v6: string }, ready = true, annotations = {}) {
  return [
    service(name, { clusterIPs: [ips.v4, ips.v6], annotations }),
    slice(name, [{ ready }], `${name}-v4`, { family: "IPv4" }),
    slice(name, [{ ready }], `${name}-v6`, { family: "IPv6" }),
  ];
}

async function torPath(env: SidecarLab, prefix: string): Promise<TorPath | undefined> {
  return (await env.lab.torPaths(prefix))[0];
}

const communities = (p: TorPath | undefined): string[] => [...(p?.communities ?? [])].sort();
const med = (p: TorPath | undefined): number => p?.med ?? 0;

/** Prefixes in the node's own BGP table (what redistribution let in), both families. */
async function nodeBgpPrefixes(env: SidecarLab): Promise<Set<string>> {
  const out = new Set<string>();
  for (const afi of ["ipv4", "ipv6"]) {
    const parsed = JSON.parse(await env.lab.vtysh("node", `show bgp ${afi} unicast json`)) as {
      routes?: Record<string, unknown>;
    };
    for (const p of Object.keys(parsed.routes ?? {})) out.add(p);
  }
  return out;
}

/** Whether the node's zebra has `prefix` as a connected route of the interface. */
async function zebraHasConnected(env: SidecarLab, prefix: string): Promise<boolean> {
  const cmd = prefix.includes(":") ? "show ipv6 route" : "show ip route";
  const parsed = JSON.parse(await env.lab.vtysh("node", `${cmd} ${prefix} json`)) as Record<
    string,
    { protocol?: string; nexthops?: { interfaceName?: string }[] }[] | undefined
  >;
  return (parsed[prefix] ?? []).some(
    (r) => r.protocol === "connected" && (r.nexthops ?? []).some((n) => n.interfaceName === IFACE),
  );
}

async function ifaceAddresses(env: SidecarLab): Promise<string[]> {
  return (await env.lab.nodeAddresses(IFACE)).sort();
}

/** The addresses the sidecar recorded as its own on the interface. */
function owned(env: SidecarLab): Promise<string[]> {
  return ownedAddresses(env, IFACE);
}

/** Every change the sidecar sent FRR so far (all methods and results of frr_applies_total). */
async function frrApplies(s: SidecarProcess): Promise<number> {
  const { status, body } = await s.get("/metrics");
  assert.equal(status, 200);
  return body
    .split("\n")
    .filter((l) => l.startsWith("frr_advertiser_frr_applies_total{"))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
}

function waitTor(env: SidecarLab, family: Family, pred: (r: ReadonlySet<string>) => boolean) {
  return env.lab.waitForTorRoutes(pred, ROUTE_WAIT, { family });
}

void describe("connected mode (a dedicated interface, redistribute connected)", { skip: SKIP }, () => {
  let env: SidecarLab | undefined;
  const lab = (): SidecarLab => env ?? assert.fail("no lab");

  before(
    async () => {
      env = await startedSidecarLab({
        mode: "connected",
        serviceInterface: IFACE,
        objects: dualStack("web", WEB),
      });
    },
    { timeout: SETUP_TIMEOUT },
  );

  after(async () => {
    await env?.stop();
  });

  void test(
    "a ready Service's /32 and /128 reach the tor from the interface; frr.conf has no network lines",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = lab();
        await waitTor(e, 4, hasAll(v4(WEB)));
        await waitTor(e, 6, hasAll(v6(WEB)));
        // Installed at the tor: the next hop resolved.
        await e.lab.waitForTorRoutes(hasAll(v4(WEB)), ROUTE_WAIT, { family: 4, source: "fib" });
        await e.lab.waitForTorRoutes(hasAll(v6(WEB)), ROUTE_WAIT, { family: 6, source: "fib" });
        const addrs = await ifaceAddresses(e);
        for (const a of [v4(WEB), v6(WEB)])
          assert.ok(addrs.includes(a), `${a} on ${IFACE}: ${addrs.join(" ")}`);
        assert.ok(
          !(await e.lab.nodeAddresses("lo")).includes(v4(WEB)),
          "lo is not the service interface here",
        );
        assert.deepEqual(await owned(e), [WEB.v6, WEB.v4].sort());
        const conf = await readFile(e.lab.confFile, "utf8");
        assert.match(conf, /^ {2}redistribute connected route-map FRRADV-CONNECTED-V4$/m);
        assert.match(conf, /^ {2}redistribute connected route-map FRRADV-CONNECTED-V6$/m);
        assert.match(conf, new RegExp(`^ match interface ${IFACE}$`, "m"));
        assert.deepEqual(await networkLinesOnDisk(e), [], "connected mode has no network statements");
        // The interface's link-local address is connected too, and never leaves the node.
        assert.ok(
          ![...(await e.lab.torRoutes(6))].some((p) => p.startsWith("fe80:")),
          "link-local at the tor",
        );
        await assertDiskEqualsRunning(e, "connected mode");
      }),
  );

  void test(
    "unready: withdrawn at the tor and the addresses leave the interface; ready again: back — no FRR call",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = lab();
        const s = e.sidecar!;
        await waitTor(e, 4, hasAll(v4(WEB)));
        const applies = await frrApplies(s);
        for (const o of dualStack("web", WEB, false)) e.api.upsert(o);
        try {
          await waitTor(e, 4, hasNone(v4(WEB)));
          await waitTor(e, 6, hasNone(v6(WEB)));
          await waitUntil(
            async () => (await ifaceAddresses(e)).every((a) => a !== v4(WEB) && a !== v6(WEB)),
            ROUTE_WAIT,
            `web's addresses off ${IFACE}`,
          );
          assert.deepEqual(await owned(e), []);
        } finally {
          // Ready again whatever happened: the later tests start from a ready web.
          for (const o of dualStack("web", WEB)) e.api.upsert(o);
        }
        await waitTor(e, 4, hasAll(v4(WEB)));
        await waitTor(e, 6, hasAll(v6(WEB)));
        // The config does not depend on Services without attributes: the address is the switch.
        assert.equal(await frrApplies(s), applies, "the sidecar changed FRR's config for a plain Service");
      }),
  );

  void test(
    "a Service's communities and MED arrive with its routes; a changed MED is re-announced",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = lab();
        for (const o of dualStack("tagged", TAGGED, true, ATTRIBUTES)) e.api.upsert(o);
        await waitTor(e, 4, hasAll(v4(TAGGED), v4(WEB)));
        await waitTor(e, 6, hasAll(v6(TAGGED), v6(WEB)));
        for (const prefix of [v4(TAGGED), v6(TAGGED)]) {
          const path = await torPath(e, prefix);
          assert.ok(path, `the tor has a path for ${prefix}`);
          assert.deepEqual(communities(path), ["65000:7", "65000:8"], `${prefix} communities`);
          assert.equal(med(path), 50, `${prefix} MED`);
        }
        // The plain Service's routes carry none of it.
        for (const prefix of [v4(WEB), v6(WEB)]) {
          const path = await torPath(e, prefix);
          assert.deepEqual(communities(path), [], `${prefix} has no communities`);
          assert.equal(med(path), 0, `${prefix} has no MED`);
        }
        // A changed attribute: the address is re-added so that redistribution evaluates it again.
        const changed = { ...ATTRIBUTES, "frr-advertiser.io/med": "60" };
        for (const o of dualStack("tagged", TAGGED, true, changed)) e.api.upsert(o);
        for (const prefix of [v4(TAGGED), v6(TAGGED)])
          await waitUntil(
            async () => med(await torPath(e, prefix)) === 60,
            ROUTE_WAIT,
            `${prefix} with MED 60`,
          );
        assert.deepEqual(communities(await torPath(e, v4(TAGGED))), ["65000:7", "65000:8"]);
        await assertDiskEqualsRunning(e, "after the attribute change");
      }),
  );

  void test(
    "someone else's addresses on the interface outside the allowed CIDRs, or excluded, are never announced",
    { timeout: TEST_TIMEOUT },
    () =>
      withDiagnostics(env, async () => {
        const e = lab();
        const foreign = [...OUTSIDE, EXCLUDED];
        for (const a of foreign) await execa("ip", ["-n", e.lab.nodeNs, "addr", "add", a, "dev", IFACE]);
        // zebra has them as connected routes of the interface: redistribution was offered them.
        for (const a of foreign)
          await waitUntil(() => zebraHasConnected(e, a), ROUTE_WAIT, `zebra's connected route ${a}`);
        // A Service added after them: its address reaches bgpd after theirs (one netlink stream
        // into zebra, one redistribution stream into bgpd), so once it is at the tor, bgpd has
        // already decided on theirs.
        for (const o of dualStack("marker", MARKER)) e.api.upsert(o);
        await waitTor(e, 4, hasAll(v4(MARKER)));
        await waitTor(e, 6, hasAll(v6(MARKER)));
        const tor = new Set([...(await e.lab.torRoutes(4)), ...(await e.lab.torRoutes(6))]);
        for (const a of foreign) assert.ok(!tor.has(a), `${a} reached the tor`);
        const node = await nodeBgpPrefixes(e);
        for (const a of foreign) assert.ok(!node.has(a), `${a} was redistributed into the node's BGP table`);
        // Not the sidecar's: left on the interface, never recorded as its own.
        const addrs = await ifaceAddresses(e);
        for (const a of foreign) assert.ok(addrs.includes(a), `${a} (not ours) is gone from ${IFACE}`);
        const mine = await owned(e);
        for (const a of foreign) assert.ok(!mine.includes(a.replace(/\/\d+$/, "")), `${a} recorded as ours`);
      }),
  );
});
