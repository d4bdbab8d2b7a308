// The vty client against a fake daemon socket: framing, enable once per connection, a config
// batch stops at the first rejected line and drops the connection, reconnects after that.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReplyParser, VtyClient, VtyCommandError } from "./vty-client.js";

/**
 * A daemon that answers per connection; `reject` lines get status 2 (as FRR's unknown command),
 * `silent` lines no answer at all (a daemon that hangs).
 */
async function fakeDaemon(reject: ReadonlySet<string>, silent: ReadonlySet<string> = new Set()) {
  const dir = await mkdtemp(join(tmpdir(), "fa-vty-"));
  const path = join(dir, "bgpd.vty");
  const received: string[][] = [];
  const open = new Set<Socket>();
  const server: Server = createServer((sock: Socket) => {
    open.add(sock);
    sock.on("close", () => open.delete(sock));
    const lines: string[] = [];
    received.push(lines);
    let pending = "";
    sock.on("data", (chunk) => {
      pending += chunk.toString("utf8");
      let nul: number;
      while ((nul = pending.indexOf("\0")) >= 0) {
        const cmd = pending.slice(0, nul);
        pending = pending.slice(nul + 1);
        lines.push(cmd);
        if (silent.has(cmd.trim())) continue;
        const bad = reject.has(cmd.trim());
        // Split the reply across writes: the client must reassemble it.
        sock.write(bad ? `% Unknown command: ${cmd.trim()}\n` : cmd === "show x" ? "x is 1\n" : "");
        sock.write(Buffer.from([0, 0, 0, bad ? 2 : 0]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    received,
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fake daemon and a client of it, both closed after the test. */
async function connected(t: TestContext, reject: ReadonlySet<string>, silent?: ReadonlySet<string>) {
  const d = await fakeDaemon(reject, silent);
  const c = new VtyClient(d.path, 5000);
  t.after(async () => {
    c.close();
    await d.close();
  });
  return { d, c };
}

void test("configure: enable once per connection, conf t … end, output of commands", async (t) => {
  const { d, c } = await connected(t, new Set());
  await c.configure(["router bgp 65001", " address-family ipv4 unicast", "  network 10.0.0.1/32"]);
  await c.configure(["router bgp 65001"]);
  assert.equal(await c.command("show x"), "x is 1\n");
  assert.deepEqual(d.received, [
    [
      "enable",
      "configure terminal",
      "router bgp 65001",
      " address-family ipv4 unicast",
      "  network 10.0.0.1/32",
      "end",
      "configure terminal",
      "router bgp 65001",
      "end",
      "show x",
    ],
  ]);
});

void test("a rejected line fails the batch and drops the connection; the next batch reconnects", async (t) => {
  const { d, c } = await connected(t, new Set(["network 10.0.0.300/32"]));
  await assert.rejects(
    c.configure(["router bgp 65001", " network 10.0.0.300/32", " network 10.0.0.2/32"]),
    (err: unknown) =>
      err instanceof VtyCommandError &&
      err.command === " network 10.0.0.300/32" &&
      err.status === 2 &&
      /Unknown command/.test(err.message),
  );
  await c.configure(["router bgp 65001"]);
  assert.equal(d.received.length, 2, "a new connection after the failure");
  // Pipelined: the rest of the chunk was sent too; the error still names the line that failed.
  assert.deepEqual(d.received[0], [
    "enable",
    "configure terminal",
    "router bgp 65001",
    " network 10.0.0.300/32",
    " network 10.0.0.2/32",
    "end",
  ]);
  assert.deepEqual(d.received[1], ["enable", "configure terminal", "router bgp 65001", "end"]);
});

void test("a missing socket or a command with a newline is an error, not a hang", async () => {
  const c = new VtyClient("/nonexistent/bgpd.vty", 2000);
  await assert.rejects(c.configure(["router bgp 1"]), /vty \/nonexistent\/bgpd.vty: 'connect' failed/);
  await assert.rejects(c.command("show x\nrouter bgp 2"), /bad command/);
});

void test("replies are reassembled wherever the stream is split, in order", () => {
  const stream = Buffer.concat([
    Buffer.from("x is 1\n"),
    Buffer.from([0, 0, 0, 0]),
    Buffer.from([0, 0, 0, 0]), // an empty reply
    Buffer.from("% Unknown command: y\n"),
    Buffer.from([0, 0, 0, 2]),
  ]);
  const want = [
    { text: "x is 1\n", status: 0 },
    { text: "", status: 0 },
    { text: "% Unknown command: y\n", status: 2 },
  ];
  for (let a = 0; a <= stream.length; a++) {
    for (let b = a; b <= stream.length; b++) {
      const p = new ReplyParser();
      const got = [
        ...p.push(stream.subarray(0, a)),
        ...p.push(stream.subarray(a, b)),
        ...p.push(stream.subarray(b)),
      ];
      assert.deepEqual(got, want, `split at ${a}, ${b}`);
    }
  }
});

void test("a 10k-line batch is one pipelined session in chunks", async (t) => {
  const { d, c } = await connected(t, new Set());
  const lines = Array.from({ length: 10_000 }, (_, i) => ` network 10.${i >> 8}.${i & 255}.1/32`);
  await c.configure(lines);
  assert.deepEqual(d.received, [["enable", "configure terminal", ...lines, "end"]]);
});

void test("closeWhenIdle waits for the batch in flight; the next batch opens a new connection", async (t) => {
  const { d, c } = await connected(t, new Set());
  const lines = Array.from({ length: 2000 }, (_, i) => ` network 10.1.${i >> 8}.${i & 255}/32`);
  const batch = c.configure(lines);
  const closed = c.closeWhenIdle(); // e.g. FRR's liveness saw a restart while the batch runs
  await batch;
  await closed;
  await c.configure(["router bgp 65001"]);
  assert.equal(d.received.length, 2);
  assert.deepEqual(d.received[0], ["enable", "configure terminal", ...lines, "end"]);
  assert.deepEqual(d.received[1], ["enable", "configure terminal", "router bgp 65001", "end"]);
});

void test("stepwise: nothing after a rejected line reaches the daemon", async (t) => {
  // `router bgp 1` while bgpd runs another AS: a pipelined next line would run at the top level.
  const { d, c } = await connected(t, new Set(["router bgp 1"]));
  await assert.rejects(
    c.configure(["router bgp 1", "bgp graceful-shutdown"], { stepwise: true }),
    (err: unknown) => err instanceof VtyCommandError && err.command === "router bgp 1",
  );
  assert.deepEqual(d.received[0], ["enable", "configure terminal", "router bgp 1"]);
});

void test("a per-batch timeout bounds a daemon that does not answer; the next batch reconnects", async (t) => {
  const { d, c } = await connected(t, new Set(), new Set(["bgp graceful-shutdown"]));
  const started = Date.now();
  await assert.rejects(
    c.configure(["router bgp 65001", "bgp graceful-shutdown"], { stepwise: true, timeoutMs: 200 }),
    /no answer in 200 ms/,
  );
  assert.ok(Date.now() - started < 2000, "bounded by the batch's timeout, not the client's");
  await c.configure(["router bgp 65001"]);
  assert.equal(d.received.length, 2, "a new connection after the timeout");
});
