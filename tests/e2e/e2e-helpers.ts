// Shared helpers for the end-to-end tests (not a test file itself): background sampling of the
// tor's BGP table, polling, reading the node's lo, frr-reload.py --test of the file on disk, metrics.
//
// Every helper that loops has a deadline, and TorSampler stops itself after maxMs: nothing here can
// keep a test process alive after its lab is gone.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import {
  ALWAYS_DELETED,
  ALWAYS_READDED,
  parseReloadDiff,
  type ReloadDiff,
} from "../../sidecar/src/frr/frr-client.js";
import { LAB_REQUIREMENTS, type Family, type Lab, type RouteSource } from "../lab/netns-lab.js";
import { requireTool } from "../support/require-tool.js";
import { OwnedAddressStore } from "../../sidecar/src/netif/owned-state.js";
import { ownedStatePath } from "../../sidecar/src/netif/address-sync.js";
import type { KeptAs } from "../../sidecar/src/netif/ip-addresses.js";
import {
  createSidecarLab,
  type LogLine,
  type SidecarLab,
  type SidecarLabOptions,
  type SidecarProcess,
} from "./harness.js";

/**
 * `skip` option for the e2e suites: a reason when this machine cannot run the netns lab; throws
 * instead where skips are not allowed (CI, FA_REQUIRE_TOOLS=1).
 */
export const SKIP: string | false = requireTool(LAB_REQUIREMENTS, { for: "e2e (netns lab)" });

/** Generous waits: the machine is noisy; these are upper bounds, never timing assertions. */
export const ROUTE_WAIT = 15_000;
export const SETUP_TIMEOUT = 60_000;
export const TEST_TIMEOUT = 90_000;

export interface TorSample {
  /** performance.now() when the read started and when it returned. */
  readonly start: number;
  readonly end: number;
  readonly routes: ReadonlySet<string>;
}

/** Runs `body` while sampling the tor, then asserts `prefixes` were in every sample. */
export async function assertNeverMissingDuring(
  lab: Lab,
  families: readonly Family[],
  prefixes: readonly string[],
  during: string,
  body: () => Promise<void>,
): Promise<void> {
  const sampler = new TorSampler(lab, families);
  try {
    await body();
  } catch (e) {
    await sampler.stop();
    throw e;
  }
  await sampler.assertNeverMissing(prefixes, during);
}

/** Fewer samples than this say the sampler did not really look (assertNeverMissing fails). */
const MIN_TOR_SAMPLES = 10;

/**
 * Reads the tor's BGP table (one or both families) in a loop until stop() (or maxMs), keeping every
 * sample, so a test can prove a prefix never vanished during an outage or find when it did.
 * `source: "fib"` samples the tor's kernel FIB (proto bgp) instead: what it forwards on.
 */
export class TorSampler {
  readonly samples: TorSample[] = [];
  readonly errors: string[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly lab: Lab,
    private readonly families: readonly Family[] = [4],
    private readonly intervalMs = 10,
    maxMs = 120_000,
    private readonly source: RouteSource = "bgp",
  ) {
    const deadline = performance.now() + maxMs;
    this.loop = this.run(deadline);
  }

  private async run(deadline: number): Promise<void> {
    while (!this.stopped && performance.now() < deadline) {
      const start = performance.now();
      try {
        const sets = await Promise.all(
          this.families.map((f) =>
            this.source === "bgp" ? this.lab.torRoutes(f) : this.lab.torFibRoutes(f),
          ),
        );
        this.samples.push({ start, end: performance.now(), routes: new Set(sets.flatMap((s) => [...s])) });
      } catch (e) {
        this.errors.push(errText(e));
      }
      if (this.intervalMs > 0) await sleep(this.intervalMs);
      else await new Promise((r) => setImmediate(r));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Samples in which at least one of the prefixes was missing. */
  gaps(prefixes: readonly string[]): TorSample[] {
    return this.samples.filter((s) => prefixes.some((p) => !s.routes.has(p)));
  }

  /**
   * Stops, then asserts that every sample held every prefix (and that there were samples). A
   * window shorter than MIN_TOR_SAMPLES reads of the tor (each a vtysh process; seen: two changes
   * done in 219 ms, eight reads) is sampled up to 5 s longer instead of failing the guard: that
   * still proves the prefixes stayed, right after the changes too.
   */
  async assertNeverMissing(prefixes: readonly string[], during: string): Promise<void> {
    // Once stopped it takes no more: nothing to wait for then (the assertion below says so).
    await readsAtLeast(
      () => (this.stopped ? Infinity : this.samples.length + this.errors.length),
      MIN_TOR_SAMPLES,
    );
    await this.stop();
    assert.ok(
      this.samples.length >= MIN_TOR_SAMPLES,
      `too few tor samples during ${during} (${this.samples.length}; errors: ${this.errors.slice(0, 3).join("; ")})`,
    );
    assert.deepEqual(this.errors, [], `reading the tor failed during ${during}`);
    const gaps = this.gaps(prefixes);
    const first = gaps[0];
    assert.equal(
      gaps.length,
      0,
      `${gaps.length}/${this.samples.length} tor samples during ${during} lacked some of ${prefixes.join(", ")}` +
        (first === undefined
          ? ""
          : `; first such sample had: ${[...first.routes].sort().join(", ") || "nothing"}`),
    );
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : typeof e === "string" ? e : JSON.stringify(e);
}

/** Polls `check` until it returns true; throws with `what` (and the last value) on timeout. */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastErr = undefined;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const why = lastErr === undefined ? "" : ` (last error: ${errText(lastErr)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** `addr/len` on the node's lo, sorted (duplicates kept: they would show up twice). */
export async function loAddresses(env: SidecarLab): Promise<string[]> {
  return (await env.lab.nodeAddresses("lo")).sort();
}

/** The raw `ip -j addr show dev lo` entries of the node (family, local, prefixlen), sorted. */
export async function loAddrJson(env: SidecarLab): Promise<string[]> {
  const r = await execa("ip", ["-n", env.lab.nodeNs, "-j", "addr", "show", "dev", "lo"]);
  const links = JSON.parse(r.stdout) as {
    addr_info?: { family?: string; local?: string; prefixlen?: number }[];
  }[];
  return links
    .flatMap((l) => l.addr_info ?? [])
    .map((a) => `${a.family ?? "?"} ${a.local ?? "?"}/${a.prefixlen ?? "?"}`)
    .sort();
}

/** Adds an address to the node's lo as "someone else" would (not through the sidecar). */
export async function addForeignAddress(env: SidecarLab, cidr: string): Promise<void> {
  await execa("ip", ["-n", env.lab.nodeNs, "addr", "add", cidr, "dev", "lo"]);
}

/** The service IPs the sidecar recorded as its own (one state file per interface and kind). */
export async function ownedAddresses(
  env: SidecarLab,
  iface = "lo",
  kind: KeptAs = "address",
): Promise<string[]> {
  // Read as the sidecar reads it after a restart (snapshot and journal), from the file it names.
  const store = new OwnedAddressStore({
    path: ownedStatePath(join(env.dir, "addresses.json"), iface, kind),
    iface,
    warn: () => {},
  });
  return [...(await store.load())].sort();
}

/** `network …` lines of the node's frr.conf on disk. */
export async function networkLinesOnDisk(env: SidecarLab): Promise<string[]> {
  const text = await readFile(env.lab.confFile, "utf8");
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("network "));
}

/**
 * Waits until a background sampler has read at least `count` times (`reads()`), at most `maxMs`:
 * a window shorter than the reads a sampler's guard needs is sampled a little past its end, which
 * still holds what the sampler asserts (the state it watches stays after the window too).
 */
export async function readsAtLeast(reads: () => number, count: number, maxMs = 5_000): Promise<void> {
  const deadline = performance.now() + maxMs;
  while (reads() < count && performance.now() < deadline) await sleep(10);
}

/**
 * `frr-reload.py --test` of the node's frr.conf on disk (or of `conf`, a file in the lab's config
 * directory) against what FRR runs now.
 */
export async function reloadTestDiff(env: SidecarLab, conf = env.lab.confFile): Promise<ReloadDiff> {
  const [file, ...args] = env.lab.frrReloadArgs(conf, { mode: "test" });
  const r = await execa(file ?? "ip", args, { reject: false, stdin: "ignore" });
  assert.equal(r.exitCode, 0, `frr-reload.py --test failed (exit ${r.exitCode}):\n${r.stderr}\n${r.stdout}`);
  return parseReloadDiff(r.stdout);
}

/** Asserts that frr-reload.py --test of the file on disk has nothing to change but those lines. */
export async function assertDiskEqualsRunning(env: SidecarLab, when: string): Promise<void> {
  // After fast prefix changes the file follows within the settle period (about a second).
  const deadline = Date.now() + 4000;
  let diff = await reloadTestDiff(env);
  const pending = () =>
    diff.toDelete.some((l) => !ALWAYS_DELETED.test(l)) || diff.toAdd.some((l) => !ALWAYS_READDED.test(l));
  while (pending() && Date.now() < deadline) {
    await sleep(250);
    diff = await reloadTestDiff(env);
  }
  assert.deepEqual(
    diff.toDelete.filter((l) => !ALWAYS_DELETED.test(l)),
    [],
    `${when}: frr-reload.py would delete lines FRR runs but frr.conf lacks`,
  );
  assert.deepEqual(
    diff.toAdd.filter((l) => !ALWAYS_READDED.test(l)),
    [],
    `${when}: frr-reload.py would add lines frr.conf has but FRR does not run`,
  );
}

/** One sample's value from /metrics (first series whose name and labels start with `series`). */
export async function metricValue(s: SidecarProcess, series: string): Promise<number | undefined> {
  const { status, body } = await s.get("/metrics");
  assert.equal(status, 200);
  for (const line of body.split("\n")) {
    if (line.startsWith("#") || !line.startsWith(series)) continue;
    const rest = line.slice(series.length);
    if (rest.startsWith(" ") || rest.startsWith("{")) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

/** Index of the first log line at or after `from` matching `pred`, or -1. */
export function findLog(s: SidecarProcess, pred: (l: LogLine) => boolean, from = 0): number {
  for (let i = from; i < s.logs.length; i++) {
    const l = s.logs[i];
    if (l !== undefined && pred(l)) return i;
  }
  return -1;
}

/** Waits for a log line at or after index `from`; returns its index. */
export async function waitForLogFrom(
  s: SidecarProcess,
  pred: (l: LogLine) => boolean,
  from: number,
  timeoutMs: number,
  what: string,
): Promise<number> {
  let idx = -1;
  try {
    await waitUntil(
      () => {
        idx = findLog(s, pred, from);
        return idx >= 0;
      },
      timeoutMs,
      what,
      20,
    );
  } catch (e) {
    throw new Error(`${errText(e)}\n--- sidecar log tail ---\n${s.tail(40)}`);
  }
  return idx;
}

/** Runs `body`; on failure prints what helps to debug (sidecar log tail, node's BGP view), then rethrows. */
export async function withDiagnostics(env: SidecarLab | undefined, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (env !== undefined) {
      const out: string[] = [];
      if (env.sidecar !== undefined) out.push("--- sidecar log tail ---", env.sidecar.tail(60));
      try {
        out.push("--- node: show bgp summary / ipv4 / ipv6 ---");
        out.push(
          await env.lab.vtysh("node", "show bgp summary", "show bgp ipv4 unicast", "show bgp ipv6 unicast"),
        );
        out.push("--- node lo ---", (await loAddresses(env)).join(" "));
      } catch (d) {
        out.push(`(diagnostics failed: ${errText(d)})`);
      }
      console.log(out.join("\n"));
    }
    throw e;
  }
}

/**
 * A lab whose sidecar is started, ready (/readyz) and whose BGP session to the tor is up.
 * `beforeStart` prepares the node (e.g. foreign addresses) before the sidecar first runs.
 */
export async function startedSidecarLab(
  opts: SidecarLabOptions,
  beforeStart: (env: SidecarLab) => Promise<void> = () => Promise.resolve(),
): Promise<SidecarLab> {
  const env = await createSidecarLab(opts);
  try {
    await beforeStart(env);
    env.start();
    await env.waitReady();
    await env.lab.waitForSession(ROUTE_WAIT);
  } catch (err) {
    await env.stop();
    throw err;
  }
  return env;
}

/** How many times the tor has established a session with the node so far (a reset makes it grow). */
export async function torSessionsEstablished(lab: Lab): Promise<number> {
  return (await lab.torSessions()).reduce((n, s) => Math.max(n, s.established), 0);
}
