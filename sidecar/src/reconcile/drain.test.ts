// drainNode with fake ports: which FRR step fits which stage, the order of steps per mode, and
// a deadline that reports the unfinished step instead of hanging.
import assert from "node:assert/strict";
import { test } from "node:test";
import { combineEvaluations } from "../model/desired-state.js";
import { drainNode, type DrainApplier, type DrainDeps } from "./drain.js";
import type { AddressSync } from "./reconciler.js";

const DRAINED = "router bgp 64512\n address-family ipv4 unicast\n exit-address-family\nexit\n";
const APPLIED =
  "router bgp 64512\n address-family ipv4 unicast\n  network 10.96.0.10/32\n  network 10.96.0.11/32\n exit-address-family\nexit\n";

function fakes(opts: {
  applied?: string;
  frrAnswers?: boolean;
  mode?: "network" | "connected";
  slowAddresses?: boolean;
}) {
  const calls: string[] = [];
  let sent = 2;
  const applier: DrainApplier = {
    appliedConfig: opts.applied,
    apply: (text) => {
      calls.push(`apply ${text === DRAINED ? "drained" : "other"}`);
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
  const addresses: AddressSync = {
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
      return Promise.resolve({
        ipv4Unicast: { peers: { "192.0.2.1": { state: "Established", pfxSnt: sent } } },
      });
    },
  };
  return { deps, calls };
}

const soon = () => Date.now() + 5000;

test("applied by this run: one drained apply, then the peers, then the addresses", async () => {
  const { deps, calls } = fakes({ applied: APPLIED });
  const r = await drainNode(deps, combineEvaluations([]), soon());
  assert.deepEqual(r, { unfinished: [], withdrawn: 2 });
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
  assert.deepEqual(r, { unfinished: [], withdrawn: 1 });
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
