// ApiWatch against a loopback HTTP server whose answers each test writes chunk by chunk: events
// split across chunks, the one end a watch has (clean, refused, quiet, unreadable, aborted).
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { ApiWatch, WatchStatusError } from "./watch-stream.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = (_req, res) => {
  res.end();
};
let server: Server;
let kc: KubeConfig;

before(async () => {
  server = createServer((req, res) => {
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: "c",
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

interface Outcome {
  readonly events: string[];
  readonly ended: Promise<unknown>;
  readonly controller: AbortController;
  readonly doneCalls: () => number;
}

async function watch(idleMs = 5_000, params: Record<string, string | boolean> = {}): Promise<Outcome> {
  const events: string[] = [];
  let calls = 0;
  let resolveEnd: (err: unknown) => void = () => undefined;
  const ended = new Promise<unknown>((resolve) => (resolveEnd = resolve));
  const controller = await new ApiWatch(kc, idleMs).watch(
    "/api/v1/services",
    params,
    (type, object) => events.push(`${type} ${(object as { metadata: { name: string } }).metadata.name}`),
    (err) => {
      calls++;
      resolveEnd(err);
    },
  );
  return { events, ended, controller, doneCalls: () => calls };
}

const event = (type: string, name: string): string =>
  JSON.stringify({ type, object: { metadata: { name, resourceVersion: "7" } } }) + "\n";

const tick = (ms = 20): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test("events split across chunks (a multi-byte character too) arrive whole, in order; a clean end is null", async () => {
  let query = "";
  handler = (req, res) => {
    query = req.url ?? "";
    res.writeHead(200, { "content-type": "application/json" });
    const all = Buffer.from(event("ADDED", "a") + event("MODIFIED", "bé") + event("DELETED", "c"));
    // Cut inside the second event's "é" (two bytes in UTF-8) and between events.
    const cut = all.indexOf("é") + 1;
    res.write(all.subarray(0, cut));
    setTimeout(() => {
      res.write(all.subarray(cut, cut + 30));
      setTimeout(() => res.end(all.subarray(cut + 30)), 20);
    }, 20);
  };
  const w = await watch(5_000, { resourceVersion: "5", allowWatchBookmarks: true });
  assert.equal(await w.ended, null);
  assert.deepEqual(w.events, ["ADDED a", "MODIFIED bé", "DELETED c"]);
  assert.match(query, /^\/api\/v1\/services\?watch=true&resourceVersion=5&allowWatchBookmarks=true$/);
  assert.equal(w.doneCalls(), 1);
});

test("a refused watch ends with the status and the API server's message", async () => {
  handler = (_req, res) => {
    res.writeHead(410, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "Status", code: 410, message: "too old resource version: 5 (9)" }));
  };
  const w = await watch();
  const err = await w.ended;
  assert.ok(err instanceof WatchStatusError, String(err));
  assert.equal(err.statusCode, 410);
  assert.match(err.message, /too old resource version/);
});

test("a stream quiet for the idle timeout ends as a TimeoutError (re-watched by the reflector)", async () => {
  handler = (_req, res) => {
    res.writeHead(200);
    res.write(event("ADDED", "a"));
  };
  const started = Date.now();
  const w = await watch(150);
  const err = await w.ended;
  assert.ok(err instanceof Error && err.name === "TimeoutError", String(err));
  assert.ok(Date.now() - started >= 140, "not before the idle timeout");
  assert.deepEqual(w.events, ["ADDED a"]);
});

test("an unreadable line ends the watch with an error; nothing after it is delivered", async () => {
  handler = (_req, res) => {
    res.writeHead(200);
    res.write(event("ADDED", "a") + "{not json\n" + event("ADDED", "b"));
  };
  const w = await watch();
  const err = await w.ended;
  assert.match(String(err), /no event/);
  await tick();
  assert.deepEqual(w.events, ["ADDED a"]);
});

test("a connection reset mid-stream ends the watch with an error", async () => {
  handler = (req, res) => {
    res.writeHead(200);
    res.write(event("ADDED", "a"));
    setTimeout(() => req.socket.resetAndDestroy(), 30);
  };
  const w = await watch();
  const err = await w.ended;
  assert.ok(err instanceof Error, String(err));
  assert.deepEqual(w.events, ["ADDED a"]);
});

test("the owner's abort ends the stream and calls nothing", async () => {
  let closed = false;
  handler = (req, res) => {
    res.writeHead(200);
    res.write(event("ADDED", "a"));
    req.socket.on("close", () => (closed = true));
  };
  const w = await watch(100);
  await tick(30);
  w.controller.abort();
  await tick(200); // past the idle timeout too
  assert.equal(w.doneCalls(), 0);
  assert.equal(closed, true, "the connection was closed");
});

test("a server that is not there ends the watch with the connection error", async () => {
  const gone = new KubeConfig();
  gone.loadFromOptions({
    clusters: [{ name: "c", server: "http://127.0.0.1:1", skipTLSVerify: true }],
    users: [{ name: "u" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  const err = await new Promise<unknown>((resolve) => {
    void new ApiWatch(gone).watch("/api/v1/nodes", {}, () => undefined, resolve);
  });
  assert.match(String(err), /ECONNREFUSED/);
});
