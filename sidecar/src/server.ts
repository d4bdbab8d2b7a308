// The HTTP operating surface: /healthz (process alive), /readyz (synced and last apply good),
// /metrics (Prometheus), /decisions (the node's current verdicts, JSON). Read-only; every answer
// comes from injected probes.

import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface Probes {
  /** Empty when ready; otherwise why not. */
  readonly notReadyReasons: () => string[];
  /** The decisions as JSON-able data (`service`: one Service only); undefined before the first sync. */
  readonly decisions?: (service: string | undefined) => unknown;
}

export function startServer(
  address: string,
  port: number,
  probes: Probes,
  registry: Registry,
): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const reasons = probes.notReadyReasons();
      res.writeHead(reasons.length === 0 ? 200 : 503, { "content-type": "text/plain" });
      res.end(reasons.length === 0 ? "ready\n" : `not ready: ${reasons.join("; ")}\n`);
    } else if (path === "/decisions" && probes.decisions !== undefined) {
      const view = probes.decisions(url.searchParams.get("service") ?? undefined);
      if (view === undefined) res.writeHead(503, { "content-type": "text/plain" }).end("not synced yet\n");
      else
        res.writeHead(200, { "content-type": "application/json" }).end(`${JSON.stringify(view, null, 2)}\n`);
    } else if (path === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      resolve(server);
    });
  });
}
