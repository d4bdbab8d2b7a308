// The API transport over HTTPS on loopback: the kubeconfig's CA, client certificate and token
// reach the request (node:https with client-node's KubeConfig), and a server the CA did not sign
// is refused.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { apiClient } from "./api-request.js";

const tls = (name: string): string =>
  readFileSync(new URL(`../testdata/tls/${name}`, import.meta.url), "utf8");
const b64 = (name: string): string => Buffer.from(tls(name)).toString("base64");

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
  readonly clientCert: string | undefined;
  readonly contentType: string | undefined;
  readonly body: string;
}

const seen: Seen[] = [];
let server: Server;
let url = "";

before(async () => {
  server = createServer(
    {
      key: tls("server.key"),
      cert: tls("server.crt"),
      ca: tls("ca.crt"),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        const socket = req.socket as import("node:tls").TLSSocket;
        const peer = socket.authorized ? socket.getPeerCertificate().subject.CN : undefined;
        seen.push({
          method: req.method ?? "",
          url: req.url ?? "",
          authorization: req.headers.authorization,
          clientCert: typeof peer === "string" ? peer : undefined,
          contentType: req.headers["content-type"],
          body,
        });
        res.writeHead(req.method === "POST" ? 201 : 200, { "content-type": "application/json" });
        res.end(JSON.stringify({ kind: "Status", message: "überall" }));
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function kubeConfig(caFile: string, user: Record<string, string>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: url, caData: b64(caFile) }],
    users: [{ name: "u", ...user }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

test("a GET carries the kubeconfig's bearer token and is verified against its CA", async () => {
  seen.length = 0;
  const api = apiClient(kubeConfig("ca.crt", { token: "tok-123" }));
  const response = await api({ method: "GET", path: "/api/v1/services?limit=2" });
  assert.equal(response.status, 200);
  assert.equal((JSON.parse(response.body) as { message: string }).message, "überall");
  assert.equal(seen.length, 1);
  assert.deepEqual(
    { method: seen[0]?.method, url: seen[0]?.url, authorization: seen[0]?.authorization },
    { method: "GET", url: "/api/v1/services?limit=2", authorization: "Bearer tok-123" },
  );
});

test("a POST sends JSON and presents the kubeconfig's client certificate", async () => {
  seen.length = 0;
  const api = apiClient(kubeConfig("ca.crt", { certData: b64("client.crt"), keyData: b64("client.key") }));
  const response = await api({
    method: "POST",
    path: "/api/v1/namespaces/default/events",
    body: { reason: "Announced" },
  });
  assert.equal(response.status, 201);
  const [request] = seen;
  assert.ok(request !== undefined);
  assert.equal(request.clientCert, "system:node:test");
  assert.equal(request.contentType, "application/json");
  assert.deepEqual(JSON.parse(request.body), { reason: "Announced" });
  assert.equal(request.authorization, undefined);
});

test("a server certificate the kubeconfig's CA did not sign is refused before any request", async () => {
  seen.length = 0;
  const api = apiClient(kubeConfig("other-ca.crt", { token: "secret" }));
  await assert.rejects(api({ method: "GET", path: "/api/v1/nodes" }), /certificate/i);
  assert.equal(seen.length, 0, "the token never left");
});

test("an aborted request rejects", async () => {
  const api = apiClient(kubeConfig("ca.crt", { token: "t" }));
  const controller = new AbortController();
  controller.abort(new Error("stopping"));
  await assert.rejects(api({ method: "GET", path: "/api/v1/nodes", signal: controller.signal }));
});
