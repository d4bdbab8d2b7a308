// `frr-advertiser why NAMESPACE/NAME`: run where FRR runs (e.g. kubectl exec into the advertiser
// container). Shows, for this node, each address of the Service with the running sidecar's verdict
// and reason (GET /decisions) and whether bgpd sends its prefix to each established peer.

import { parseArgs } from "node:util";
import { ConfigError, type Config } from "../config/load-config.js";
import { parseBgpSummary } from "../frr/bgp-status.js";
import type { FrrClient } from "../frr/frr-client.js";
import { familyOfText } from "../model/ip.js";
import { loadNodeConfig, vtyshFrrClient } from "./node-cli.js";
import type { DecisionsView, DecisionView } from "../reconcile/decisions-view.js";
import type { CliIo } from "./render-command.js";

const USAGE = `usage: frr-advertiser why NAMESPACE/NAME [--config FILE] [--url URL] [--output text|json]
  --config FILE   the sidecar's config (default $CONFIG_FILE or /etc/frr-advertiser/config.yaml):
                  where its /decisions answers and how vtysh reaches FRR
  --url URL       the running sidecar (default http://127.0.0.1:<server.port>)
exit codes: 0 the Service has decisions on this node, 1 it has none, 2 error`;

/** Per established peer and family: whether bgpd sends the prefix. */
export interface PeerSend {
  readonly peer: string;
  readonly family: "ipv4" | "ipv6";
  readonly sent: boolean;
}

export interface WhyAddress extends DecisionView {
  readonly peers: readonly PeerSend[];
}

export interface WhyReport {
  readonly service: string;
  readonly node: string;
  readonly addresses: readonly WhyAddress[];
  readonly withdrawalHold?: DecisionsView["withdrawalHold"];
  readonly gracefulDrain?: DecisionsView["gracefulDrain"];
}

export async function runWhyCommand(argv: readonly string[], io: CliIo): Promise<number> {
  let opts;
  try {
    opts = parseWhyArgs(argv);
  } catch (err) {
    io.stderr(`frr-advertiser why: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (opts === "help") {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  try {
    const config = await loadNodeConfig(opts.config, io);
    const view = await fetchDecisions(opts.url ?? localUrl(config), opts.service);
    const report = await explain(view, opts.service, vtyshFrrClient(config, "/tmp"));
    io.stdout(opts.output === "json" ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.addresses.length > 0 ? 0 : 1;
  } catch (err) {
    io.stderr(`frr-advertiser why: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
    return 2;
  }
}

function parseWhyArgs(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      config: { type: "string" },
      url: { type: "string" },
      output: { type: "string", default: "text" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) return "help" as const;
  const [service, ...rest] = positionals;
  if (service === undefined || rest.length > 0 || !/^[a-z0-9.-]+\/[a-z0-9.-]+$/.test(service))
    throw new Error("give one Service as NAMESPACE/NAME");
  if (values.output !== "text" && values.output !== "json") throw new Error("--output is text or json");
  return { service, config: values.config, url: values.url, output: values.output };
}

function localUrl(config: Config): string {
  const host =
    config.server.address === "0.0.0.0" || config.server.address === "::"
      ? "127.0.0.1"
      : config.server.address;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.server.port}`;
}

async function fetchDecisions(base: string, service: string): Promise<DecisionsView> {
  const url = `${base.replace(/\/$/, "")}/decisions?service=${encodeURIComponent(service)}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new Error(`the sidecar does not answer at ${url}: ${(err as Error).message}`);
  }
  const body = await res.text();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}: ${body.trim()}`);
  return JSON.parse(body) as DecisionsView;
}

/** The Service's decisions with, for each advertised prefix, what bgpd sends each established peer. */
export async function explain(
  view: DecisionsView,
  service: string,
  frr: Pick<FrrClient, "bgpSummary" | "advertisedRoutes">,
): Promise<WhyReport> {
  const decisions = view.decisions.filter((d) => d.service === service);
  const sessions =
    decisions.length === 0 ? [] : parseBgpSummary(await frr.bgpSummary()).filter((s) => s.established);
  const sentTo = new Map<string, Set<string>>();
  for (const s of sessions) sentTo.set(`${s.peer} ${s.family}`, await frr.advertisedRoutes(s.peer, s.family));
  const addresses = decisions.map((d): WhyAddress => {
    const family: PeerSend["family"] = familyOfText(d.address);
    const prefix = d.prefix ?? `${d.address}/${family === "ipv6" ? 128 : 32}`;
    const peers = sessions
      .filter((s) => s.family === family)
      .map((s) => ({
        peer: s.peer,
        family,
        sent: sentTo.get(`${s.peer} ${s.family}`)?.has(prefix) ?? false,
      }));
    return { ...d, peers };
  });
  return {
    service,
    node: view.node,
    addresses,
    ...(view.withdrawalHold === undefined ? {} : { withdrawalHold: view.withdrawalHold }),
    ...(view.gracefulDrain === undefined ? {} : { gracefulDrain: view.gracefulDrain }),
  };
}

export function formatReport(r: WhyReport): string {
  const lines = [`${r.service} on node ${r.node}:`];
  if (r.addresses.length === 0)
    lines.push("  no decisions: the Service is not in the cluster, or not seen by this node");
  for (const a of r.addresses) {
    lines.push(`  ${a.address || "-"} (${a.kind}): ${a.verdict.toUpperCase()} [${a.code}] ${a.reason}`);
    if (a.prefix !== undefined)
      lines.push(
        `    announced as ${a.prefix}${a.attributeSet === undefined ? "" : ` with ${a.attributeSet}`}` +
          (a.weight === undefined ? "" : ` (weighted ECMP: link bandwidth ${a.weight})`),
      );
    if (a.peers.length === 0) lines.push("    no established BGP session for this family");
    for (const p of a.peers) lines.push(`    ${p.sent ? "sent to" : "NOT sent to"} ${p.peer} (${p.family})`);
  }
  if (r.withdrawalHold !== undefined)
    lines.push(
      `  note: the mass-withdrawal breaker holds withdrawals until ${r.withdrawalHold.until} (${r.withdrawalHold.reason})`,
    );
  if (r.gracefulDrain !== undefined)
    lines.push(`  note: this node drains; its routes carry GRACEFUL_SHUTDOWN until ${r.gracefulDrain.until}`);
  return `${lines.join("\n")}\n`;
}
