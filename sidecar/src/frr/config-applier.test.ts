// ConfigApplier's bookkeeping of what FRR runs: fast network changes, settle, and a later delta
// (the drain's) taken from what FRR runs rather than from the file.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ConfigApplier } from "./config-applier.js";
import { parseConf, sameConf, type Placed } from "./config-delta.js";
import type { FrrClient } from "./frr-client.js";
import { VerifiedRecord } from "./verified-record.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "fa-applier-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const conf = (nets: string[]) =>
  `router bgp 64512\n address-family ipv4 unicast\n${nets.map((n) => `  network ${n}\n`).join("")} exit-address-family\nexit\n`;

function fakeFrr() {
  const batches: string[][] = [];
  const scopes: string[] = [];
  const frr = {
    applyCommands: (lines: readonly string[], _file: string, scope = "bgpd") => {
      batches.push([...lines]);
      scopes.push(scope);
      return Promise.resolve();
    },
    batchFilePath: () => join(dir, "batch"),
    diff: () => Promise.resolve({ toAdd: [], toDelete: [] }),
    reload: () => Promise.resolve(),
    softClearOut: () => Promise.resolve(),
  };
  return { frr: frr as unknown as FrrClient, batches, scopes };
}

const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
const placed = (prefix: string): Placed => ({
  router: "router bgp 64512",
  af: "address-family ipv4 unicast",
  line: `network ${prefix}`,
});

test("fast changes: the file follows at settle; a delta in between starts from what FRR runs", async () => {
  const file = join(dir, "frr.conf");
  const { frr, batches } = fakeFrr();
  const applier = new ConfigApplier(frr, file, log);
  assert.equal((await applier.apply(conf(["10.0.0.1/32"]), true)).kind, "reloaded");
  await applier.applyNetworkChanges([], [placed("10.0.0.2/32")]);
  assert.equal(await readFile(file, "utf8"), conf(["10.0.0.1/32"]), "the file waits for settle");
  // The drain's delta: from what FRR runs, so the fast-added prefix is withdrawn too.
  const drained = await applier.apply(conf([]), false);
  assert.ok(drained.kind === "delta", drained.kind);
  assert.deepEqual([...drained.withdrawn].sort(), ["10.0.0.1/32", "10.0.0.2/32"]);
  assert.equal(await readFile(file, "utf8"), conf([]));
  assert.equal(batches.length, 2);
});

test("settle writes only a render that holds exactly what FRR runs", async () => {
  const file = join(dir, "frr2.conf");
  const { frr } = fakeFrr();
  const applier = new ConfigApplier(frr, file, log);
  await applier.apply(conf(["10.0.0.1/32"]), true);
  await applier.applyNetworkChanges([placed("10.0.0.1/32")], [placed("10.0.0.3/32")]);
  assert.equal(await applier.settle(conf(["10.0.0.1/32", "10.0.0.3/32"])), false, "not what FRR runs");
  assert.equal(await readFile(file, "utf8"), conf(["10.0.0.1/32"]));
  assert.equal(await applier.settle(conf(["10.0.0.3/32"])), true);
  assert.equal(await readFile(file, "utf8"), conf(["10.0.0.3/32"]));
  assert.ok(parseConf(applier.appliedConfig ?? ""));
});

test("writeRunning: after fast changes, frr.conf is written from what FRR runs, route-maps included, without a render", async () => {
  const file = join(dir, "frr-kept.conf");
  const { frr } = fakeFrr();
  const applier = new ConfigApplier(frr, file, log);
  const token = (): number | undefined => applier.inStep;
  assert.equal(await applier.writeRunning(), false, "nothing applied: nothing to write from");
  await applier.apply(conf(["10.0.0.1/32", "10.0.0.2/32"]), true);
  assert.equal(await applier.writeRunning(), true, "nothing new: nothing to write");
  const entry = { name: "FRRADV-A-7", header: "route-map FRRADV-A-7 permit 10", body: ["set metric 7"] };
  await applier.applyNetworkChanges(
    [placed("10.0.0.1/32")],
    [placed("10.0.0.3/32"), placed("10.0.0.4/32 route-map FRRADV-A-7")],
    { added: [entry], removed: [] },
  );
  assert.equal(token(), undefined, "the file lags FRR");
  assert.equal(await applier.writeRunning(), true);
  assert.notEqual(token(), undefined, "the file holds all FRR was told");
  const written = await readFile(file, "utf8");
  assert.equal(written, applier.appliedConfig);
  const render = `route-map FRRADV-A-7 permit 10\n set metric 7\nexit\n${conf(["10.0.0.2/32", "10.0.0.3/32", "10.0.0.4/32 route-map FRRADV-A-7"])}`;
  const [a, b] = [parseConf(written), parseConf(render)];
  assert.ok(a && b && sameConf(a, b), written);
  // A later render of the same state finds nothing to change in FRR, only the file's wording.
  assert.equal((await applier.apply(render, false)).kind, "unchanged");
  // A statement in a block the file lacks: written by a render instead.
  await applier.applyNetworkChanges(
    [],
    [{ router: "router bgp 64512", af: "address-family ipv6 unicast", line: "network fd00::1/128" }],
  );
  assert.equal(await applier.writeRunning(), false);
  assert.equal(await readFile(file, "utf8"), render);
});

test("inStep: a token while frr.conf holds all FRR was told, none while fast changes wait or a change runs", async () => {
  const file = join(dir, "frr-instep.conf");
  const { frr } = fakeFrr();
  let release: () => void = () => undefined;
  let hold = false;
  const slow = {
    ...(frr as unknown as Record<string, unknown>),
    applyCommands: () =>
      hold
        ? new Promise<void>((r) => {
            release = r;
          })
        : Promise.resolve(),
  } as unknown as FrrClient;
  const applier = new ConfigApplier(slow, file, log);
  // Read through a function: an assertion on the property would narrow it for the lines below.
  const token = (): number | undefined => applier.inStep;
  assert.equal(token(), undefined, "nothing applied: the file is not ours yet");
  await applier.apply(conf(["10.0.0.1/32"]), true);
  const first = token();
  assert.notEqual(first, undefined);
  hold = true;
  const inFlight = applier.applyNetworkChanges([], [placed("10.0.0.2/32")]);
  assert.equal(token(), undefined, "a change in flight");
  release();
  await inFlight;
  assert.equal(token(), undefined, "fast change not on disk yet");
  hold = false;
  assert.equal(await applier.settle(conf(["10.0.0.1/32", "10.0.0.2/32"])), true);
  const settled = token();
  assert.ok(settled !== undefined && first !== undefined && settled > first, "a new token after the settle");
});

test("a full apply of what FRR already runs skips frr-reload.py (a restart), writes the file", async () => {
  const file = join(dir, "frr-same.conf");
  const { frr } = fakeFrr();
  const reloads: string[] = [];
  let diff = { toAdd: ["ip forwarding", "frr version 10.3"], toDelete: [] as string[] };
  const counting = {
    ...(frr as unknown as Record<string, unknown>),
    diff: () => Promise.resolve(diff),
    reload: (f: string) => {
      reloads.push(f);
      return Promise.resolve();
    },
  } as unknown as FrrClient;
  const applier = new ConfigApplier(counting, file, log);
  assert.equal((await applier.apply(conf(["10.0.0.1/32"]), true)).kind, "reloaded");
  assert.deepEqual(reloads, [], "only the lines FRR lists on every run: nothing to reload");
  assert.equal(await readFile(file, "utf8"), conf(["10.0.0.1/32"]));
  diff = { toAdd: [" network 10.0.0.2/32"], toDelete: [] };
  await applier.apply(conf(["10.0.0.1/32", "10.0.0.2/32"]), true);
  assert.equal(reloads.length, 1, "a real difference goes through frr-reload.py");
});

test("the first full apply of a process takes frr.conf as running on the verified record's word; later ones, or one after an FRR restart, ask frr-reload.py", async () => {
  const file = join(dir, "frr-verified.conf");
  const record = join(dir, "frr-verified.conf.verified");
  const { frr } = fakeFrr();
  const asked: string[] = [];
  /** bgpd's listing: what the file says, plus whatever else bgpd was told. */
  let extra = "";
  const frrWith = (diff: { toAdd: string[]; toDelete: string[] }) =>
    ({
      ...(frr as unknown as Record<string, unknown>),
      bgpdRunningConfig: () => {
        asked.push("listing");
        return Promise.resolve(conf([]).replace("router bgp 64512\n", `router bgp 64512\n${extra}`));
      },
      diff: (f: string) => {
        asked.push(`test ${f}`);
        return Promise.resolve(diff);
      },
      reload: (f: string) => {
        asked.push(`reload ${f}`);
        return Promise.resolve();
      },
    }) as unknown as FrrClient;
  // A start on a fresh FRR: frr-reload.py applies the file, and what bgpd then shows is recorded.
  const first = new ConfigApplier(frrWith({ toAdd: ["router bgp 64512"], toDelete: [] }), file, log, {
    verified: new VerifiedRecord(record),
  });
  await first.apply(conf([]), true);
  assert.deepEqual(
    asked.map((a) => a.split(" ")[0]),
    ["listing", "test", "reload", "listing"],
    "compared before, recorded after",
  );
  // The next process (a restart after a drain): bgpd shows the same, so no frr-reload.py at all.
  asked.length = 0;
  const empty = frrWith({ toAdd: [], toDelete: [] });
  let taken = 0;
  const second = new ConfigApplier(empty, file, log, {
    verified: new VerifiedRecord(record),
    onTakenAsRunning: () => taken++,
  });
  second.invalidate(false); // FRR answers for the first time: no restart seen
  await writeFile(file, "stale\n");
  assert.deepEqual([...(await second.runningPrefixes())], [], "the start reads what bgpd runs");
  assert.equal((await second.apply(conf([]), true)).kind, "reloaded");
  assert.deepEqual(asked, ["listing"], "bgpd's listing read once, no frr-reload.py");
  assert.equal(await readFile(file, "utf8"), conf([]), "the file is written as always");
  assert.equal(taken, 1, "told, so that every daemon is compared soon");
  // Its later full applies, and the first one after an FRR restart, go through frr-reload.py.
  asked.length = 0;
  await second.apply(conf([]), true);
  second.invalidate();
  await second.apply(conf([]), true);
  assert.deepEqual(
    asked.map((a) => a.split(" ")[0]),
    ["test", "listing", "test", "listing"],
    "frr-reload.py --test each time, its empty answer recorded",
  );
  // A third process while bgpd runs something else (graceful shutdown left on by a drain cut short).
  asked.length = 0;
  extra = " bgp graceful-shutdown\n";
  const third = new ConfigApplier(frrWith({ toAdd: [], toDelete: ["bgp graceful-shutdown"] }), file, log, {
    verified: new VerifiedRecord(record),
  });
  await third.apply(conf([]), true);
  assert.deepEqual(
    asked.map((a) => a.split(" ")[0]),
    ["listing", "test", "reload", "listing"],
  );
  // A start whose --test finds nothing to change records the listing it compared, unread again.
  asked.length = 0;
  extra = "";
  const other = join(dir, "other.verified");
  const fourth = new ConfigApplier(empty, file, log, { verified: new VerifiedRecord(other) });
  await fourth.runningPrefixes();
  await fourth.apply(conf([]), true);
  assert.deepEqual(
    asked.map((a) => a.split(" ")[0]),
    ["listing", "test"],
  );
  assert.equal(await new VerifiedRecord(other).runs(conf([]), conf([])), true);
});

test("a failed fast batch leaves FRR's state unknown: the next apply reloads", async () => {
  const file = join(dir, "frr3.conf");
  const { frr } = fakeFrr();
  let reloads = 0;
  const failing = Object.assign(Object.create(frr) as FrrClient, {
    applyCommands: () => Promise.reject(new Error("vty: % Unknown command")),
    // FRR differs from each render (else frr-reload.py is skipped).
    diff: () => Promise.resolve({ toAdd: [" network 10.0.0.4/32"], toDelete: [] }),
    reload: () => {
      reloads++;
      return Promise.resolve();
    },
  });
  const applier = new ConfigApplier(failing, file, log);
  await applier.apply(conf([]), true);
  await assert.rejects(applier.applyNetworkChanges([], [placed("10.0.0.4/32")]), /Unknown command/);
  assert.equal((await applier.apply(conf(["10.0.0.4/32"]), false)).kind, "reloaded");
  assert.equal(reloads, 2);
});

test("attribute route-maps: added with their statements over bgpd's vty; removed from every daemon", async () => {
  const file = join(dir, "frr-maps.conf");
  const { frr, batches, scopes } = fakeFrr();
  const applier = new ConfigApplier(frr, file, log);
  const map = (name: string) => `route-map ${name} permit 10\n set metric 7\nexit\n`;
  await applier.apply(conf(["10.0.0.1/32"]), true);
  const entry = { name: "FRRADV-A-7", header: "route-map FRRADV-A-7 permit 10", body: ["set metric 7"] };
  await applier.applyNetworkChanges([], [placed("10.0.0.2/32 route-map FRRADV-A-7")], {
    added: [entry],
    removed: [],
  });
  assert.deepEqual(scopes, ["bgpd"], "only bgpd's statements name it: no vtysh process");
  assert.deepEqual([...(applier.runningRouteMaps?.keys() ?? [])], [entry.header]);
  assert.equal(
    await applier.settle(`${map("FRRADV-A-7")}${conf(["10.0.0.1/32", "10.0.0.2/32 route-map FRRADV-A-7"])}`),
    true,
  );
  // The prefix left the set (a fast pass): the settle render lacks the route-map, so it is no
  // longer what FRR runs; the apply that follows removes it as a delta, after the statements.
  await applier.applyNetworkChanges([placed("10.0.0.2/32 route-map FRRADV-A-7")], []);
  assert.equal(await applier.settle(conf(["10.0.0.1/32"])), false);
  const outcome = await applier.apply(conf(["10.0.0.1/32"]), false);
  assert.equal(outcome.kind, "delta");
  assert.deepEqual(batches.at(-1), ["no route-map FRRADV-A-7 permit 10"]);
  assert.equal(scopes.at(-1), "all-daemons");
  assert.equal(applier.runningRouteMaps?.size, 0);
});

test("a delta that withdraws statements and retires their sets (a drain after attribute changes): the statements over bgpd's vty, only the removals through vtysh", async () => {
  const { frr, batches, scopes } = fakeFrr();
  const applier = new ConfigApplier(frr, join(dir, "frr-drain-sets.conf"), log);
  const maps = "route-map A permit 10\n set metric 1\nexit\nroute-map B permit 10\n set metric 2\nexit\n";
  await applier.apply(
    `${maps}${conf(["10.0.0.1/32", "10.0.0.2/32 route-map A", "10.0.0.3/32 route-map B"])}`,
    true,
  );
  batches.length = 0;
  scopes.length = 0;
  const outcome = await applier.apply(conf([]), false);
  assert.equal(outcome.kind, "delta");
  assert.deepEqual(scopes, ["bgpd", "all-daemons"]);
  assert.deepEqual(batches, [
    [
      "router bgp 64512",
      " address-family ipv4 unicast",
      "  no network 10.0.0.1/32",
      "  no network 10.0.0.2/32",
      "  no network 10.0.0.3/32",
      " exit-address-family",
      "exit",
    ],
    ["no route-map A permit 10", "no route-map B permit 10"],
  ]);
  assert.equal(applier.runningRouteMaps?.size, 0);
});

test("a fast batch that empties a set: statements over bgpd's vty first, then the route-map through vtysh", async () => {
  const file = join(dir, "frr-retire.conf");
  const { frr, batches, scopes } = fakeFrr();
  const applier = new ConfigApplier(frr, file, log);
  const map = `route-map FRRADV-A-7 permit 10\n set metric 7\nexit\n`;
  const users = ["10.0.0.2/32 route-map FRRADV-A-7", "10.0.0.3/32 route-map FRRADV-A-7"];
  await applier.apply(`${map}${conf(["10.0.0.1/32", ...users])}`, true);
  assert.deepEqual([...(applier.runningRouteMapUse ?? [])], [["FRRADV-A-7", 2]]);
  await applier.applyNetworkChanges([placed(users[0] ?? "")], []);
  assert.deepEqual([...(applier.runningRouteMapUse ?? [])], [["FRRADV-A-7", 1]]);
  const entry = applier.runningRouteMaps?.get("route-map FRRADV-A-7 permit 10");
  assert.ok(entry !== undefined);
  batches.length = 0;
  scopes.length = 0;
  await applier.applyNetworkChanges([placed(users[1] ?? "")], [], { added: [], removed: [entry] });
  assert.deepEqual(batches, [
    [
      "router bgp 64512",
      " address-family ipv4 unicast",
      "  no network 10.0.0.3/32",
      " exit-address-family",
      "exit",
    ],
    ["no route-map FRRADV-A-7 permit 10"],
  ]);
  assert.deepEqual(scopes, ["bgpd", "all-daemons"]);
  assert.equal(applier.runningRouteMaps?.size, 0);
  assert.equal(applier.runningRouteMapUse?.size, 0);
  // The settle render lacks the set: it holds what FRR runs, so it is only written.
  assert.equal(await applier.settle(conf(["10.0.0.1/32"])), true);
  assert.equal(await readFile(file, "utf8"), conf(["10.0.0.1/32"]));
});

test("a prefix moves from the last of one set to a new set: new route-map and statements to bgpd, then the old route-map's removal", async () => {
  const { frr, batches, scopes } = fakeFrr();
  const applier = new ConfigApplier(frr, join(dir, "frr-move.conf"), log);
  await applier.apply(
    `route-map OLD permit 10\n set metric 1\nexit\n${conf(["10.0.0.2/32 route-map OLD"])}`,
    true,
  );
  const old = applier.runningRouteMaps?.get("route-map OLD permit 10");
  assert.ok(old !== undefined);
  const fresh = { name: "NEW", header: "route-map NEW permit 10", body: ["set metric 2"] };
  batches.length = 0;
  scopes.length = 0;
  await applier.applyNetworkChanges(
    [placed("10.0.0.2/32 route-map OLD")],
    [placed("10.0.0.2/32 route-map NEW")],
    {
      added: [fresh],
      removed: [old],
    },
  );
  assert.deepEqual(scopes, ["bgpd", "all-daemons"]);
  assert.deepEqual(batches[0]?.slice(0, 3), ["route-map NEW permit 10", " set metric 2", "exit"]);
  assert.deepEqual(batches[1], ["no route-map OLD permit 10"]);
  assert.deepEqual([...(applier.runningRouteMaps?.keys() ?? [])], ["route-map NEW permit 10"]);
  assert.deepEqual([...(applier.runningRouteMapUse ?? [])], [["NEW", 1]]);
});

test("templates.allowSessionReset false: a reload that would reset a session is refused, the last good config stays", async () => {
  const file = join(dir, "frr-reset.conf");
  const { frr, batches } = fakeFrr();
  let reloads = 0;
  const resetting = { toDelete: [], toAdd: ["router bgp 64512", "neighbor 192.0.2.1 ebgp-multihop 2"] };
  const withDiff = {
    ...(frr as unknown as Record<string, unknown>),
    diff: () => Promise.resolve(resetting),
    bgpdRunningConfig: () =>
      Promise.resolve("router bgp 64512\n neighbor 192.0.2.1 remote-as external\nexit\n"),
    reload: () => {
      reloads++;
      return Promise.resolve();
    },
  } as unknown as FrrClient;
  const refused: string[] = [];
  const applier = new ConfigApplier(withDiff, file, log, {
    allowSessionReset: false,
    onSessionResetRefused: (impact) => refused.push(impact.peers.map((p) => `${p.peer} ${p.impact}`).join()),
  });
  await assert.rejects(
    applier.apply(conf(["10.0.0.1/32"]), true),
    /would reset BGP sessions \(neighbour 192\.0\.2\.1\)/,
  );
  assert.equal(reloads, 0, "FRR was not touched");
  assert.deepEqual(refused, ["192.0.2.1 reset"]);
  assert.deepEqual(batches, []);
  // Allowed (the default): the same change is applied.
  const allowed = new ConfigApplier(withDiff, file, log);
  assert.equal((await allowed.apply(conf(["10.0.0.1/32"]), true)).kind, "reloaded");
  assert.equal(reloads, 1);
});
