// probeSocket tells a dead daemon (socket file left behind, nobody listening) from a busy one
// (listening, but not accepting: its backlog fills up) — only the first is a restart. The poll
// loop runs on a fake clock with a scripted socket identity.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeClock, settle } from "../clock.test-helper.js";
import { FrrLiveness, probeSocket } from "./frr-liveness.js";

/** A process holding a unix socket: bound only (listen = false), or listening and never accepting. */
async function holdSocket(path: string, listen: boolean): Promise<ChildProcess> {
  const code = [
    "import socket, sys, time",
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
    `s.bind(${JSON.stringify(path)})`,
    listen ? "s.listen(0)" : "",
    "print('ready', flush=True)",
    "time.sleep(60)",
  ].join("\n");
  const child = spawn("python3", ["-c", code], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => {
      resolve();
    });
    child.once("error", reject);
  });
  return child;
}

void test("alive: something listens and accepts", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fa-live-"));
  const path = join(dir, "zebra.vty");
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });
  assert.equal(await probeSocket(path), "alive");
});

void test("dead: the socket file is there but nobody listens (a daemon killed with SIGKILL)", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fa-live-"));
  const path = join(dir, "bgpd.vty");
  const holder = await holdSocket(path, false);
  t.after(async () => {
    holder.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });
  assert.equal(await probeSocket(path), "dead");
  assert.equal(await probeSocket(join(dir, "missing.vty")), "dead");
});

void test("busy: a listener that does not accept, with a full backlog, is alive", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "fa-live-"));
  const path = join(dir, "zebra.vty");
  const holder = await holdSocket(path, true);
  const fillers: Socket[] = [];
  t.after(async () => {
    for (const s of fillers) s.destroy();
    holder.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });
  // Fill the backlog the way polls pile up while a daemon is busy.
  for (let i = 0; i < 8; i++) {
    const s = createConnection({ path });
    s.on("error", () => undefined);
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 100));
  const got = await probeSocket(path, 500);
  assert.notEqual(got, "dead");
  assert.equal(got, "busy", "the backlog is full: the connect cannot complete");
});

/**
 * A liveness monitor polling every 500 ms whose socket identities and vtysh answers come from the
 * scripts (the last entry repeats); events are "up" and "down".
 */
function liveness(ids: readonly (string | undefined)[], answers: readonly boolean[] = [true]) {
  const clock = new FakeClock();
  const idQueue = [...ids];
  const answerQueue = [...answers];
  const events: string[] = [];
  let asked = 0;
  let polls = 0;
  const live = new FrrLiveness({
    stateDir: "/nonexistent",
    daemons: ["zebra", "bgpd"],
    intervalMs: 500,
    clock,
    identity: () => {
      polls++;
      return Promise.resolve(idQueue.length > 1 ? idQueue.shift() : idQueue[0]);
    },
    isUp: () => {
      asked++;
      return Promise.resolve(answerQueue.length > 1 ? answerQueue.shift()! : answerQueue[0]!);
    },
    onUp: (again: boolean) => events.push(again ? "up again" : "up"),
    onDown: () => events.push("down"),
  });
  return {
    live,
    clock,
    events,
    get asked() {
      return asked;
    },
    get polls() {
      return polls;
    },
  };
}

const sequences: readonly {
  name: string;
  ids: readonly (string | undefined)[];
  answers?: readonly boolean[];
  events: readonly string[];
  /** vtysh round trips: only while not up and every daemon is there. */
  asked: number;
  up: boolean;
}[] = [
  { name: "FRR there from the start: up once", ids: ["a", "a", "a"], events: ["up"], asked: 1, up: true },
  {
    name: "a daemon restarted (new socket): down, then up again",
    ids: ["a", "b", "b"],
    events: ["up", "down", "up again"],
    asked: 2,
    up: true,
  },
  {
    name: "a daemon gone: down, vtysh not asked",
    ids: ["a", undefined, undefined],
    events: ["up", "down"],
    asked: 1,
    up: false,
  },
  {
    name: "not answering at first: asked again at the next poll",
    ids: ["a"],
    answers: [false, true],
    events: ["up"],
    asked: 2,
    up: true,
  },
  {
    name: "FRR not started yet: nothing, vtysh never asked",
    ids: [undefined],
    events: [],
    asked: 0,
    up: false,
  },
];

for (const c of sequences)
  void test(`FrrLiveness: ${c.name}`, async () => {
    const s = liveness(c.ids, c.answers);
    s.live.start();
    await settle();
    await s.clock.advance(500 * (c.ids.length - 1) + 1000);
    s.live.stop();
    assert.deepEqual(s.events, c.events);
    assert.equal(s.asked, c.asked);
    assert.equal(s.live.isUp, c.up);
  });

void test("FrrLiveness: polls at start and then every interval, not in between; stop() stops", async () => {
  const s = liveness(["a"]);
  s.live.start();
  await settle();
  assert.equal(s.polls, 1, "at once: FRR may be up already");
  assert.equal(s.live.isUp, true);
  await s.clock.advance(499);
  assert.equal(s.polls, 1);
  await s.clock.advance(1);
  assert.equal(s.polls, 2);
  s.live.stop();
  await s.clock.advance(5000);
  assert.equal(s.polls, 2);
  assert.equal(s.clock.pending, 0);
});

void test("FrrLiveness: a poll still waiting for FRR is not overlapped by the next", async () => {
  const clock = new FakeClock();
  let polls = 0;
  let answer: (up: boolean) => void = () => undefined;
  const live = new FrrLiveness({
    stateDir: "/nonexistent",
    daemons: ["bgpd"],
    intervalMs: 500,
    clock,
    identity: () => {
      polls++;
      return Promise.resolve("a");
    },
    isUp: () => new Promise((resolve) => (answer = resolve)),
    onUp: () => undefined,
    onDown: () => undefined,
  });
  live.start();
  await clock.advance(2000);
  assert.equal(polls, 1, "vtysh has not answered: the ticks meanwhile are skipped");
  answer(true);
  await settle();
  assert.equal(live.isUp, true);
  await clock.advance(500);
  assert.equal(polls, 2);
  live.stop();
});
