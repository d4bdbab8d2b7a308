// probeSocket tells a dead daemon (socket file left behind, nobody listening) from a busy one
// (listening, but not accepting: its backlog fills up) — only the first is a restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { probeSocket } from "./frr-liveness.js";

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
