// The HTTP operating surface: /healthz (process alive), /readyz (synced and last apply good),
// /metrics (Prometheus). Read-only; every answer comes from injected probes.

import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface Probes {
  /** Empty when ready; otherwise why not. */
  readonly notReadyReasons: () => string[];
}

export function startServer(
  address: string,
  port: number,
  probes: Probes,
  registry: Registry,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const reasons = probes.notReadyReasons();
      res.writeHead(reasons.length === 0 ? 200 : 503, { "content-type": "text/plain" });
      res.end(reasons.length === 0 ? "ready\n" : `not ready: ${reasons.join("; ")}\n`);
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
