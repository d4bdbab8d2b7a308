// The floor, measured in the same run: FRR alone, in the same lab and with the same observers as
// the sidecar's phases, once the sidecar has drained and exited (the node's bgpd runs the drained
// config: `router bgp`, the neighbours, no `network` line; the session stays up).
//  - N `network X/32` lines in ONE batch, then wait until the tor has all N (BGP table and FIB);
//  - sequential flips: `no network X/32`, wait until the tor's table and FIB lost it, `network
//    X/32`, wait until it is back; each timed like the sidecar's sequential phase (ChangeTracker:
//    from just before the write to what the tor shows);
//  - with --attribute-services: the first of those prefixes re-stated with route-maps from the
//    same number of attribute sets as the sidecar's attributes phase (not timed), then 20 new
//    prefixes one at a time, each with a route-map bgpd does not run yet (entry and statement in
//    one batch, committed once as the applier sends them), each withdrawn again with its
//    route-map, timed like that phase;
//  - the N lines removed again in one batch, and wait until the tor has none.
// Every line goes over ONE kept-open connection to the node bgpd's vty socket, through the
// sidecar's own VtyClient, the way `frr.deltaTransport: vty` sends its deltas (same `router bgp` /
// `address-family ipv4 unicast` context): no process start per change. With --frr image the
// bgpd is the image's; its vty socket is in the pathspace directory the lab bind-mounts from the
// host (tests/lab/image-frr.ts frrMounts), so the bench reaches it the same way.
// Imports the lab: import this module only after FA_LAB_FRR is set (bench/run-bench.ts).

import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { committedOnce } from "../../sidecar/src/frr/config-delta.js";
import { runningAsn } from "../../sidecar/src/frr/frr-client.js";
import { VtyClient } from "../../sidecar/src/frr/vty-client.js";
import { LAB_FRR_IMAGE } from "../../tests/lab/image-frr.js";
import { FRR_RUN_DIR, type Lab } from "../../tests/lab/netns-lab.js";
import { round } from "./stats.js";
import {
  ChangeTracker,
  fibSettledAt,
  wallNow,
  watchFibCount,
  type Change,
  type FibMonitor,
  type TorBgp,
} from "./tor-observer.js";

/** One batch of N lines and how long the tor took to reflect all of it. */
export interface BulkResult {
  /** `network` (load) or `no network` (clear) lines in the batch. */
  readonly lines: number;
  /** Writing the batch over the vty, until bgpd answered its last line. */
  readonly configureMs: number;
  /** Start of the batch → all of them (load) / none (clear) in the tor's BGP table (pfxRcd). */
  readonly wireMs: number | undefined;
  /** The same, in the tor's kernel FIB. */
  readonly fibMs: number | undefined;
}

export interface FloorRun {
  /** How the lines reach bgpd: "vty", a kept-open connection to its vty socket. */
  readonly method: "vty";
  readonly note: string;
  /** The node bgpd's vty socket the connection is kept open to. */
  readonly socket: string;
  readonly asn: number;
  readonly load: BulkResult;
  readonly clear: BulkResult;
  /** The timed flips, as the ChangeTracker recorded them (withdrawals and announcements). */
  readonly changes: readonly Change[];
  /** New prefixes each with a new attribute set (and their withdrawals); see FloorAttributes. */
  readonly newSets?: readonly Change[];
}

/** The attributes phase's shape, for FRR alone (the sidecar's attributes phase mirrors it). */
export interface FloorAttributes {
  /** The first this many of the prefixes get a route-map… */
  readonly services: number;
  /** …from this many distinct ones. */
  readonly sets: number;
  /** Prefixes the sidecar's phase adds one at a time, each with a set of its own. */
  readonly newPrefixes: readonly string[];
}

const FLOOR_SET = "FRRADV-FLOOR-S";
const FLOOR_NEW = "FRRADV-FLOOR-N";

function routeMapEntry(name: string, community: string): string[] {
  return [`route-map ${name} permit 10`, ` set community ${community} additive`, "exit"];
}

/** bgpd's config lines for `network` (present) or `no network` of these prefixes, in one batch. */
function networkLines(asn: number, prefixes: readonly string[], present: boolean): string[] {
  return inBgpIpv4(
    asn,
    prefixes.map((p) => `${present ? "" : "no "}network ${p}`),
  );
}

/** `network` lines with a route-map each (the name `setOf` gives for the prefix). */
function networkLinesWithMaps(
  asn: number,
  prefixes: readonly string[],
  setOf: (i: number) => string,
): string[] {
  return inBgpIpv4(
    asn,
    prefixes.map((p, i) => `network ${p} route-map ${setOf(i)}`),
  );
}

/** bgpd's config lines for these statements under `router bgp` / `address-family ipv4 unicast`. */
function inBgpIpv4(asn: number, statements: readonly string[]): string[] {
  return [
    `router bgp ${asn}`,
    " address-family ipv4 unicast",
    ...statements.map((l) => `  ${l}`),
    " exit-address-family",
    "exit",
  ];
}

/**
 * FRR alone, a new attribute set per change: the attribute sets set up (not timed), then each new
 * prefix announced with a route-map of its own and withdrawn again with it, timed. The prefixes
 * keep their route-maps until the floor's clear removes their statements; the route-maps go here.
 */
async function newAttributeSets(
  p: { readonly fib: FibMonitor; readonly bgp: TorBgp },
  vty: VtyClient,
  asn: number,
  prefixes: readonly string[],
  a: FloorAttributes,
): Promise<Change[]> {
  const k = Math.min(prefixes.length, a.services);
  const sets = Math.min(k, a.sets);
  const setName = (i: number) => `${FLOOR_SET}-${String(i % sets)}`;
  await vty.configure(
    committedOnce([
      ...[...Array(sets).keys()].flatMap((s) => routeMapEntry(setName(s), `65000:${String(s)}`)),
      ...networkLinesWithMaps(asn, prefixes.slice(0, k), setName),
    ]),
  );
  await sleep(3000); // past the re-announcement of the k prefixes with their communities
  const tracker = new ChangeTracker(p.fib, p.bgp, 2);
  try {
    for (const [j, prefix] of a.newPrefixes.entries()) {
      const name = `${FLOOR_NEW}-${String(j)}`;
      let written: Promise<void> = Promise.resolve();
      await tracker.track(prefix, true, () => {
        written = vty.configure(
          committedOnce([
            ...routeMapEntry(name, `65001:${String(j)}`),
            ...networkLinesWithMaps(asn, [prefix], () => name),
          ]),
        );
        written.catch(() => undefined);
      });
      await written;
      await sleep(300);
      await tracker.track(prefix, false, () => {
        // As the applier: the statement first, then the route-map nothing names any more.
        written = vty
          .configure(networkLines(asn, [prefix], false))
          .then(() => vty.configure(committedOnce([`no route-map ${name} permit 10`])));
        written.catch(() => undefined);
      });
      await written;
      await sleep(300);
    }
  } finally {
    tracker.stop();
  }
  await vty.configure(
    committedOnce([...Array(sets).keys()].map((s) => `no route-map ${setName(s)} permit 10`)),
  );
  return tracker.done;
}

/** The `network` prefixes of `wanted` that bgpd runs now (`write terminal`, bgpd's own config). */
async function runningNetworks(vty: VtyClient, wanted: ReadonlySet<string>): Promise<string[]> {
  const config = await vty.privileged("write terminal");
  return [...config.matchAll(/^\s*network (\S+)/gm)].map((m) => m[1] ?? "").filter((p) => wanted.has(p));
}

/**
 * Runs `write` and waits until the tor holds all of `wanted` (all) or none of it, in its BGP table
 * (the peer's pfxRcd against `base`, what it held before) and its FIB. As the drain's measurement:
 * when `ip monitor` lost events in a burst, the tor's kernel table is read instead (≤ 200 ms late).
 */
async function bulk(
  p: { readonly fib: FibMonitor; readonly bgp: TorBgp; readonly lab: Lab },
  wanted: ReadonlySet<string>,
  all: boolean,
  base: number,
  write: () => Promise<void>,
  timeoutMs: number,
): Promise<BulkResult> {
  const n = wanted.size;
  const fibDone = watchFibCount(p.fib, wanted, all ? (c) => c >= n : (c) => c === 0);
  try {
    const t0 = wallNow();
    await write();
    const configureMs = round(wallNow() - t0);
    const wireAt = await p.bgp.waitCount(all ? (c) => c >= base + n : (c) => c <= base, timeoutMs);
    // A count that held before the batch (the monitor's set went stale) is no measurement: since t0.
    const fibAt = await fibSettledAt({
      readFib: () => p.lab.torFibRoutes(4),
      watch: fibDone,
      wanted,
      all,
      since: t0,
      deadline: wallNow() + (wireAt === undefined ? 0 : timeoutMs),
    });
    return {
      lines: n,
      configureMs,
      wireMs: wireAt === undefined ? undefined : round(wireAt - t0),
      fibMs: fibAt === undefined ? undefined : round(fibAt - t0),
    };
  } finally {
    fibDone.stop();
  }
}

export async function runFrrFloor(p: {
  readonly lab: Lab;
  readonly fib: FibMonitor;
  readonly bgp: TorBgp;
  /** The bench's Service prefixes, X/32 each. */
  readonly prefixes: readonly string[];
  readonly flips: number;
  readonly random: () => number;
  readonly log: (s: string) => void;
  /** With the sidecar's attributes phase: the same for FRR alone. */
  readonly attributes?: FloorAttributes;
}): Promise<FloorRun> {
  const { lab, bgp, prefixes, log } = p;
  const n = prefixes.length;
  const wanted = new Set(prefixes);
  const socket = join(FRR_RUN_DIR, lab.nodeNs, "bgpd.vty");
  const vty = new VtyClient(socket, 120_000);
  // The same transport from the host in both modes: in image mode the socket is the image's bgpd's.
  const note =
    "one connection from the bench to the node bgpd's vty socket, kept open (the sidecar's VtyClient, as frr.deltaTransport vty)" +
    (LAB_FRR_IMAGE === undefined
      ? ""
      : `; bgpd is ${LAB_FRR_IMAGE}'s, its socket in the pathspace dir the lab bind-mounts from the host`);
  let asn: number | undefined;
  let base = 0;
  let loaded = false;
  try {
    const running = await vty.privileged("write terminal");
    asn = runningAsn(running);
    // The sidecar's render switches the import check off (ADR 0008); with it on, bgpd would
    // announce none of these lines (the addresses are not on the node any more).
    if (!/^\s*no bgp network import-check\s*$/m.test(running))
      throw new Error("the node's bgpd checks imports: the drained config is not the sidecar's render");
    if ((await runningNetworks(vty, wanted)).length > 0)
      throw new Error("the node's bgpd still runs some of the Service prefixes after the drain");
    await lab.waitForSession(10_000);
    base = (await bgp.peer()).pfxRcd;
    const lineAsn = asn;
    loaded = true;
    const load = await bulk(
      p,
      wanted,
      true,
      base,
      () => vty.configure(networkLines(lineAsn, prefixes, true)),
      120_000,
    );
    log(
      `  ${n} network lines in one batch (${load.configureMs} ms to write): wire all ${load.wireMs} ms, FIB all ${load.fibMs} ms`,
    );
    if (load.wireMs === undefined || load.fibMs === undefined)
      throw new Error(`the tor did not get all ${n} prefixes from bgpd alone`);
    await sleep(1500); // as the sequential phase: past whatever the batch left bgpd and zebra to do

    const tracker = new ChangeTracker(p.fib, bgp, 2);
    try {
      for (let k = 0; k < p.flips; k++) {
        const prefix = prefixes[Math.floor(p.random() * n)] ?? "";
        for (const present of [false, true]) {
          let written: Promise<void> = Promise.resolve();
          await tracker.track(prefix, present, () => {
            written = vty.configure(networkLines(lineAsn, [prefix], present));
            // Awaited below, once the tor showed the change (or the tracker timed out).
            written.catch(() => undefined);
          });
          await written;
        }
      }
    } finally {
      tracker.stop();
    }

    const newSets =
      p.attributes === undefined || p.attributes.services === 0
        ? undefined
        : await newAttributeSets(p, vty, lineAsn, prefixes, p.attributes);

    const left = await runningNetworks(vty, wanted);
    const clear = await bulk(
      p,
      new Set(left),
      false,
      base,
      () => vty.configure(networkLines(lineAsn, left, false)),
      120_000,
    );
    loaded = false;
    log(
      `  ${left.length} no-network lines in one batch (${clear.configureMs} ms to write): wire none ${clear.wireMs} ms, FIB none ${clear.fibMs} ms`,
    );
    return {
      method: "vty",
      note,
      socket,
      asn,
      load,
      clear,
      changes: tracker.done,
      ...(newSets === undefined ? {} : { newSets }),
    };
  } finally {
    if (loaded && asn !== undefined) await cleanUp(vty, lab, bgp, asn, wanted, base, log);
    vty.close();
  }
}

/** After a failure: remove whatever of the prefixes bgpd still runs, so the next phase starts clean. */
async function cleanUp(
  vty: VtyClient,
  lab: Lab,
  bgp: TorBgp,
  asn: number,
  wanted: ReadonlySet<string>,
  base: number,
  log: (s: string) => void,
): Promise<void> {
  try {
    const left = await runningNetworks(vty, wanted);
    if (left.length > 0) await vty.configure(networkLines(asn, left, false));
    const gone = await bgp.waitCount((c) => c <= base, 60_000);
    // And out of the tor's kernel FIB, read directly (the next phase counts from there).
    const fibEmpty =
      gone === undefined
        ? undefined
        : await fibSettledAt({
            readFib: () => lab.torFibRoutes(4),
            wanted,
            all: false,
            deadline: wallNow() + 30_000,
          });
    log(
      `  floor: removed ${left.length} network lines after a failure${fibEmpty === undefined ? "; the tor still holds some" : ""}`,
    );
  } catch (err) {
    log(`  floor: could not remove the network lines after a failure: ${String(err)}`);
  }
}
