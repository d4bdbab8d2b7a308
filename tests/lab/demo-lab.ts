// `npm run lab`: the product on one machine. A node FRR and a top-of-rack FRR in network
// namespaces, a fake Kubernetes API with sample Services whose health toggles, and the real
// sidecar between them; prints the tor's BGP table whenever it changes, until Ctrl-C.

import { createSidecarLab, service, slice, type SidecarLab } from "../e2e/harness.js";

const SERVICES = [
  { name: "web", clusterIPs: ["10.96.10.10"] },
  {
    name: "api",
    clusterIPs: ["10.96.20.20", "fd00:96::20"],
    annotations: { "frr-advertiser.io/communities": "64512:100" },
  },
  { name: "ingress", clusterIPs: ["10.96.30.30"], lbIPs: ["203.0.113.30"] },
  { name: "batch", clusterIPs: ["10.96.50.50"] },
];

async function main(): Promise<void> {
  console.log("starting the lab: node FRR + tor FRR (network namespaces), fake API server, frr-advertiser…");
  const objects = SERVICES.flatMap((s) => [
    service(s.name, s),
    slice(s.name, [{ ready: true }]),
    ...(s.clusterIPs.some((ip) => ip.includes(":"))
      ? [slice(s.name, [{ ready: true }], `${s.name}-v6`, { family: "IPv6" })]
      : []),
  ]);
  const env = await createSidecarLab({ objects, config: { log: { level: "info" } } });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping: the sidecar withdraws its routes (SIGTERM), then the lab is removed");
    await env.stopSidecar("SIGTERM").catch(() => undefined);
    await env.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  try {
    env.start();
    await env.waitReady(30000);
    await env.lab.waitForSession(30000);
    console.log(`lab up: node ${env.lab.nodeNs} ↔ tor ${env.lab.torNs}; Ctrl-C to stop\n`);
    await loop(env, () => stopping);
  } catch (err) {
    console.error(`lab failed: ${err instanceof Error ? err.message : String(err)}`);
    if (env.sidecar) console.error(env.sidecar.tail(20));
    await stop(1);
  }
}

async function loop(env: SidecarLab, stopped: () => boolean): Promise<void> {
  let shown = "";
  let tick = 0;
  while (!stopped()) {
    // Every 4 s one Service loses or regains its only endpoint.
    if (tick % 40 === 39) {
      const s = SERVICES[Math.floor(tick / 40) % SERVICES.length];
      if (s) {
        const ready = Math.floor(tick / (40 * SERVICES.length)) % 2 === 1;
        env.api.upsert(slice(s.name, [{ ready }]));
        console.log(`${time()} service default/${s.name}: endpoint ${ready ? "ready" : "NOT ready"}`);
      }
    }
    const table = [...(await env.lab.torRoutes(4)), ...(await env.lab.torRoutes(6))].sort().join(" ");
    if (table !== shown) {
      shown = table;
      console.log(`${time()} tor BGP table: ${table || "(empty)"}`);
    }
    tick++;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function time(): string {
  return new Date().toISOString().slice(11, 23);
}

await main();
