// drainNode with fake ports: which FRR step fits which stage, the order of steps per mode, and
// a deadline that reports the unfinished step instead of hanging; the graceful-shutdown phase
// before them: when it runs, how long it waits, and that FRR failing it never blocks the rest.
import assert from "node:assert/strict";
import { test } from "node:test";
import { combineEvaluations } from "../model/desired-state.js";
import { drainNode, WITHDRAWAL_RESERVE_MS, type DrainApplier, type DrainDeps } from "./drain.js";
import type { AddressSync } from "./reconciler.js";

const DRAINED = "router bgp 64512\n address-family ipv4 unicast\n exit-address-family\nexit\n";
const APPLIED =
  "router bgp 64512\n address-family ipv4 unicast\n  network 10.96.0.10/32\n  network 10.96.0.11/32\n exit-address-family\nexit\n";

function fakes(opts: {
  applied?: string;
  frrAnswers?: boolean;
  mode?: "network" | "connected";
  slowAddresses?: boolean;
  /** What FRR does with `bgp graceful-shutdown`; absent: the option is off. */
  graceful?: "accepts" | "rejects" | "hangs";
  /** FRR rejects switching it off again. */
  gracefulOffFails?: boolean;
  /** FRR rejects the withdrawal batch. */
  applyFails?: boolean;
  waitMs?: number;
  /** Prefixes the established peer was sent before the drain (default 2). */
  sent?: number;
  established?: boolean;
}) {
  const calls: string[] = [];
  const logs: string[] = [];
  let sent = opts.sent ?? 2;
  const applier: DrainApplier = {
    appliedConfig: opts.applied,
    apply: (text) => {
      calls.push(`apply ${text === DRAINED ? "drained" : "other"}`);
      if (opts.applyFails === true) return Promise.reject(new Error("vtysh -f (delta) exited 1"));
      sent = 0;
      return Promise.resolve({ kind: "delta", commands: 2, withdrawn: ["10.96.0.10/32", "10.96.0.11/32"] });
    },
    withdrawFromRunning: () => {
      calls.push("withdrawFromRunning");
      sent = 0;
      return Promise.resolve(["10.96.0.10/32"]);
    },
    leaveForNextStart: () => {
      calls.push("leaveForNextStart");
      return Promise.resolve();
    },
  };
  const addresses: Pick<AddressSync, "sync"> = {
    sync: async (desired, phase) => {
      calls.push(`addresses ${phase} ${desired.size}`);
      if (opts.slowAddresses === true) await new Promise((r) => setTimeout(r, 10_000).unref());
      if (opts.mode === "connected") sent = 0;
    },
  };
  const deps: DrainDeps = {
    mode: opts.mode ?? "network",
    drainedConfig: DRAINED,
    applier,
    addresses,
    frrAnswers: opts.frrAnswers ?? true,
    bgpSummary: () => {
      calls.push("summary");
      const state = opts.established === false ? "Active" : "Established";
      return Promise.resolve({
        ipv4Unicast: { peers: { "192.0.2.1": { state, pfxSnt: sent } } },
      });
    },
    gracefulShutdown:
      opts.graceful === undefined
        ? undefined
        : {
            waitMs: opts.waitMs ?? 5000,
            start: () => {
              calls.push("graceful-shutdown");
              if (opts.graceful === "rejects")
                return Promise.reject(new Error("'router bgp 64512' failed (status 13)"));
              if (opts.graceful === "hangs") return new Promise<void>(() => undefined);
              return Promise.resolve();
            },
            stop: () => {
              calls.push("graceful-shutdown off");
              return opts.gracefulOffFails === true
                ? Promise.reject(new Error("no answer"))
                : Promise.resolve();
            },
          },
    log: {
      info: (_f, msg) => logs.push(`info ${msg}`),
      warn: (_f, msg) => logs.push(`warn ${msg}`),
    },
  };
  return { deps, calls, logs };
}

/** Time that moves only when the drain sleeps: waits are measured, not spent. */
function virtualTime(deps: DrainDeps, calls: string[]) {
  let t = 1_000_000;
  return {
    deps: {
      ...deps,
      clock: {
        now: () => t,
        after: (ms: number, fn: () => void) => {
          calls.push(`sleep ${ms}`);
          t += ms;
          queueMicrotask(fn);
          return () => undefined;
        },
        every: () => {
          throw new Error("the drain has no periodic timer");
        },
      },
    },
    at: (ms: number) => t + ms,
  };
}

const soon = () => Date.now() + 5000;

test("applied by this run: one drained apply, then the peers, then the addresses", async () => {
  const { deps, calls } = fakes({ applied: APPLIED });
  const r = await drainNode(deps, combineEvaluations([]), soon());
  assert.deepEqual(r, { unfinished: [], withdrawn: 2, graceful: { kind: "skipped", why: "switched off" } });
  assert.deepEqual(
    calls.filter((c) => c !== "summary"),
    ["apply drained", "addresses remove 0"],
  );
  assert.ok(
    calls.indexOf("apply drained") < calls.lastIndexOf("summary"),
    "waited for the peers after the apply",
  );
});

test("nothing applied yet, FRR answers: what FRR runs is withdrawn", async () => {
  const { deps, calls } = fakes({});
  const r = await drainNode(deps, undefined, soon());
  assert.deepEqual(r, { unfinished: [], withdrawn: 1, graceful: { kind: "skipped", why: "switched off" } });
  assert.deepEqual(
    calls.filter((c) => c !== "summary"),
    ["withdrawFromRunning", "addresses remove 0"],
  );
});

test("FRR does not answer: the drained file is left for its next start, addresses go", async () => {
  const { deps, calls } = fakes({ frrAnswers: false });
  const r = await drainNode(deps, undefined, soon());
  assert.deepEqual(r.unfinished, []);
  assert.deepEqual(calls, ["leaveForNextStart", "addresses remove 0"]);
});

test("connected mode: the addresses go first (they are the announcement), then the config", async () => {
  const { deps, calls } = fakes({ applied: APPLIED, mode: "connected" });
  const r = await drainNode(deps, undefined, soon());
  assert.deepEqual(r.unfinished, []);
  assert.deepEqual(
    calls.filter((c) => c !== "summary"),
    ["addresses remove 0", "apply drained"],
  );
});

test("a step that outlives the deadline is reported, not waited for", async () => {
  const { deps } = fakes({ applied: APPLIED, slowAddresses: true });
  const started = Date.now();
  const r = await drainNode(deps, undefined, Date.now() + 200);
  assert.ok(Date.now() - started < 5000);
  assert.deepEqual(r.unfinished, [{ step: "addresses", why: "shutdown deadline reached" }]);
});

// ---- graceful shutdown (RFC 8326) ----

const withoutSummaries = (calls: readonly string[]) => calls.filter((c) => c !== "summary");

test("graceful shutdown: the community goes out, waitSeconds pass, then the withdrawal as before", async () => {
  const f = fakes({ applied: APPLIED, graceful: "accepts", waitMs: 5000 });
  const { deps, at } = virtualTime(f.deps, f.calls);
  const r = await drainNode(deps, combineEvaluations([]), at(20_000));
  assert.deepEqual(r, { unfinished: [], withdrawn: 2, graceful: { kind: "announced", waitedMs: 5000 } });
  assert.deepEqual(withoutSummaries(f.calls), [
    "graceful-shutdown",
    "sleep 5000",
    "apply drained",
    "addresses remove 0",
    "graceful-shutdown off",
  ]);
  assert.ok(f.logs.some((l) => l.startsWith("info graceful shutdown: routes re-announced")));
  assert.ok(f.logs.includes("info graceful shutdown switched off: FRR runs the drained frr.conf"));
});

test("graceful shutdown: the wait is cut short to leave the withdrawal its share of the deadline", async () => {
  const f = fakes({ applied: APPLIED, graceful: "accepts", waitMs: 5000 });
  const { deps, at } = virtualTime(f.deps, f.calls);
  const r = await drainNode(deps, undefined, at(WITHDRAWAL_RESERVE_MS + 2000));
  assert.deepEqual(r.graceful, { kind: "announced", waitedMs: 2000 });
  assert.ok(f.calls.includes("sleep 2000"), f.calls.join(", "));
  assert.deepEqual(r.unfinished, []);
});

test("graceful shutdown: no time left before the deadline, straight to the withdrawal", async () => {
  const f = fakes({ applied: APPLIED, graceful: "accepts" });
  const { deps, at } = virtualTime(f.deps, f.calls);
  const r = await drainNode(deps, undefined, at(WITHDRAWAL_RESERVE_MS - 1));
  assert.deepEqual(r.graceful, { kind: "skipped", why: "no time left before the shutdown deadline" });
  assert.deepEqual(withoutSummaries(f.calls), ["apply drained", "addresses remove 0"]);
});

test("graceful shutdown: FRR rejects it — a warning, and the withdrawal goes on at once", async () => {
  const f = fakes({ applied: APPLIED, graceful: "rejects" });
  const { deps, at } = virtualTime(f.deps, f.calls);
  const r = await drainNode(deps, undefined, at(20_000));
  assert.equal(r.graceful.kind, "failed");
  assert.deepEqual(r.unfinished, []);
  assert.deepEqual(withoutSummaries(f.calls), ["graceful-shutdown", "apply drained", "addresses remove 0"]);
  assert.ok(f.logs.includes("warn graceful shutdown failed; withdrawing without it"), f.logs.join("\n"));
});

test("graceful shutdown: FRR does not answer — bounded by the wait, then the withdrawal", async () => {
  const { deps, calls } = fakes({ applied: APPLIED, graceful: "hangs", waitMs: 200 });
  const started = Date.now();
  const r = await drainNode(deps, undefined, Date.now() + WITHDRAWAL_RESERVE_MS + 10_000);
  assert.ok(Date.now() - started < 3000, "not waited for FRR beyond the graceful wait");
  assert.deepEqual(r.graceful, { kind: "failed", why: "FRR did not answer in time" });
  assert.deepEqual(r.unfinished, []);
  assert.deepEqual(withoutSummaries(calls), ["graceful-shutdown", "apply drained", "addresses remove 0"]);
});

for (const [name, opts, why] of [
  ["FRR does not answer", { frrAnswers: false }, "FRR does not answer"],
  ["no established session", { established: false }, "no established session"],
  ["nothing advertised", { sent: 0 }, "nothing advertised"],
] as const) {
  test(`graceful shutdown skipped: ${name}`, async () => {
    const f = fakes({ applied: APPLIED, graceful: "accepts", ...opts });
    const { deps, at } = virtualTime(f.deps, f.calls);
    const r = await drainNode(deps, undefined, at(20_000));
    assert.deepEqual(r.graceful, { kind: "skipped", why });
    assert.ok(!f.calls.includes("graceful-shutdown"));
    assert.ok(!f.calls.some((c) => c.startsWith("sleep")));
  });
}

test("connected mode: graceful shutdown first, then the addresses (the withdrawal), then the config", async () => {
  const f = fakes({ applied: APPLIED, mode: "connected", graceful: "accepts", waitMs: 3000 });
  const { deps, at } = virtualTime(f.deps, f.calls);
  const r = await drainNode(deps, undefined, at(20_000));
  assert.deepEqual(r.graceful, { kind: "announced", waitedMs: 3000 });
  assert.deepEqual(withoutSummaries(f.calls), [
    "graceful-shutdown",
    "sleep 3000",
    "addresses remove 0",
    "apply drained",
    "graceful-shutdown off",
  ]);
});

test("graceful shutdown stays on when the withdrawal did not finish (no route re-sent without it)", async () => {
  const f = fakes({ applied: APPLIED, graceful: "accepts", applyFails: true });
  const { deps, at } = virtualTime(f.deps, f.calls);
  const r = await drainNode(deps, undefined, at(20_000));
  assert.deepEqual(
    r.unfinished.map((u) => u.step),
    ["withdraw"],
  );
  assert.ok(!f.calls.includes("graceful-shutdown off"), f.calls.join(", "));
  assert.ok(f.logs.includes("warn graceful shutdown left on: withdrawal unfinished"), f.logs.join("\n"));
});

test("switching graceful shutdown off failing is a warning, not an unfinished drain", async () => {
  const f = fakes({ applied: APPLIED, graceful: "accepts", gracefulOffFails: true });
  const { deps, at } = virtualTime(f.deps, f.calls);
  const r = await drainNode(deps, undefined, at(20_000));
  assert.deepEqual(r.unfinished, []);
  assert.equal(r.graceful.kind, "announced");
  assert.ok(f.calls.includes("graceful-shutdown off"));
  assert.ok(
    f.logs.some((l) => l.startsWith("warn graceful shutdown left on;")),
    f.logs.join("\n"),
  );
});
