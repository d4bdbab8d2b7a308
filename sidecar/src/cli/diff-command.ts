// `frr-advertiser diff`: run where FRR runs. Renders the cluster's current state (from the API,
// or --objects FILE) with the current or a candidate template dir, and compares it with what FRR
// runs: lines, prefixes, and per neighbour whether the change resets its session (see
// frr/session-impact.ts). Exit 0 no change, 1 changes, 2 error.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, type Config } from "../config/load-config.js";
import { isEmptyDiff, runsBgpRouter, type ReloadDiff } from "../frr/frr-client.js";
import { configImpact, resetsSessions, type ConfigImpact } from "../frr/session-impact.js";
import { objectsToSnapshot } from "../kube/to-snapshot.js";
import { computeDesiredState } from "../model/desired-state.js";
import { toTemplateContext } from "../render/context.js";
import { compileTemplates, renderFrrConf } from "../render/renderer.js";
import { loadTemplateDir } from "../templates/load-template-dir.js";
import { loadNodeConfig, vtyshFrrClient } from "./node-cli.js";
import { InputError, readObjectsFile } from "./read-objects.js";
import type { CliIo } from "./render-command.js";

const USAGE = `usage: frr-advertiser diff [--config FILE] [--templates DIR] [--objects FILE|-] [--output text|json]
  --config FILE     the sidecar's config (default $CONFIG_FILE or /etc/frr-advertiser/config.yaml)
  --templates DIR   candidate templates (default: the config's frr.templateDir)
  --objects FILE    Kubernetes objects to render (default: read them from the API server)
exit codes: 0 FRR already runs this, 1 it would change (what and how is printed), 2 error`;

export interface DiffReport {
  readonly node: string;
  readonly templates: string;
  readonly changed: boolean;
  readonly toDelete: readonly string[];
  readonly toAdd: readonly string[];
  readonly impact: ConfigImpact;
  /** True when applying it would restart an existing BGP session. */
  readonly resetsSessions: boolean;
}

export async function runDiffCommand(argv: readonly string[], io: CliIo): Promise<number> {
  let opts;
  try {
    opts = parseDiffArgs(argv);
  } catch (err) {
    io.stderr(`frr-advertiser diff: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (opts === "help") {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  try {
    const config = await loadNodeConfig(opts.config, io);
    const templateDir = opts.templates ?? config.frr.templateDir;
    const objects =
      opts.objects === undefined
        ? await listFromApi(config.nodeName)
        : await readObjectsFile(opts.objects, io.stdin);
    const text = await render(config, templateDir, objects);
    const { diff, routerRuns } = await diffAgainstFrr(config, text);
    const impact = configImpact(diff, routerRuns);
    const report: DiffReport = {
      node: config.nodeName,
      templates: templateDir,
      changed: !isEmptyDiff(diff),
      toDelete: diff.toDelete,
      toAdd: diff.toAdd,
      impact,
      resetsSessions: resetsSessions(impact),
    };
    io.stdout(opts.output === "json" ? `${JSON.stringify(report, null, 2)}\n` : formatDiff(report));
    return report.changed ? 1 : 0;
  } catch (err) {
    const known = err instanceof ConfigError || err instanceof InputError;
    io.stderr(`frr-advertiser diff: ${known ? err.message : (err as Error).message}\n`);
    return 2;
  }
}

function parseDiffArgs(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      config: { type: "string" },
      templates: { type: "string" },
      objects: { type: "string" },
      output: { type: "string", default: "text" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help === true) return "help" as const;
  if (values.output !== "text" && values.output !== "json") throw new Error("--output is text or json");
  return {
    config: values.config,
    templates: values.templates,
    objects: values.objects,
    output: values.output,
  };
}

/** This node's Node, every Service and EndpointSlice: one paged list each (lazily loaded client). */
async function listFromApi(nodeName: string): Promise<unknown[]> {
  const { loadKubeConfig } = await import("../kube/cluster-watch.js");
  const { apiClient, statusMessage } = await import("../kube/api-request.js");
  const api = apiClient(loadKubeConfig());
  const get = async (
    path: string,
  ): Promise<{ items?: unknown[]; metadata?: { continue?: string } } & object> => {
    const { status, body } = await api({ method: "GET", path });
    if (status !== 200) throw new Error(`GET ${path}: HTTP ${status}: ${statusMessage(body)}`);
    return JSON.parse(body) as { items?: unknown[]; metadata?: { continue?: string } };
  };
  const list = async (path: string, kind: string): Promise<unknown[]> => {
    const out: unknown[] = [];
    let token: string | undefined;
    do {
      const page = await get(
        `${path}?limit=500${token === undefined ? "" : `&continue=${encodeURIComponent(token)}`}`,
      );
      // List items carry no kind; the converter reads it.
      for (const item of page.items ?? []) out.push({ ...(item as object), kind });
      token = page.metadata?.continue === "" ? undefined : page.metadata?.continue;
    } while (token !== undefined);
    return out;
  };
  const node = { ...(await get(`/api/v1/nodes/${encodeURIComponent(nodeName)}`)), kind: "Node" };
  return [
    node,
    ...(await list("/api/v1/services", "Service")),
    ...(await list("/apis/discovery.k8s.io/v1/endpointslices", "EndpointSlice")),
  ];
}

async function render(config: Config, templateDir: string, objects: readonly unknown[]): Promise<string> {
  const { snapshot, nodes } = objectsToSnapshot(objects);
  const node = nodes.find((n) => n.name === config.nodeName);
  const state = computeDesiredState(snapshot, node, config.policy);
  const templates = compileTemplates(await loadTemplateDir(templateDir));
  return renderFrrConf(templates, toTemplateContext(config, state));
}

/** frr-reload.py --test of the render against what FRR runs; nothing is applied. */
async function diffAgainstFrr(
  config: Config,
  text: string,
): Promise<{ diff: ReloadDiff; routerRuns: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), "frr-advertiser-diff-"));
  try {
    const file = join(dir, "frr.conf");
    await writeFile(file, text, { mode: 0o644 });
    const frr = vtyshFrrClient(config, dir);
    const diff = await frr.diff(file);
    const routerRuns = runsBgpRouter(await frr.bgpdRunningConfig());
    return { diff, routerRuns };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatDiff(r: DiffReport): string {
  const out = [
    `node ${r.node}, templates ${r.templates}: ${r.changed ? "FRR would change" : "FRR runs this already"}`,
  ];
  if (!r.changed) return `${out[0] ?? ""}\n`;
  const { impact } = r;
  if (impact.announced.length > 0)
    out.push(`prefixes announced (${impact.announced.length}): ${impact.announced.join(", ")}`);
  if (impact.withdrawn.length > 0)
    out.push(`prefixes withdrawn (${impact.withdrawn.length}): ${impact.withdrawn.join(", ")}`);
  if (impact.resetsAll.length > 0) out.push(`every BGP session is reset: ${impact.resetsAll.join("; ")}`);
  for (const p of impact.peers) {
    const what = {
      reset: "session RESET",
      soft: "updated without a reset (route refresh)",
      added: "new neighbour",
      removed: "neighbour removed",
    }[p.impact];
    out.push(`neighbour ${p.peer}: ${what}`, ...p.lines.map((l) => `    ${l}`));
  }
  if (impact.other.length > 0) out.push("other lines:", ...impact.other.map((l) => `    ${l}`));
  out.push(
    `lines to delete (${r.toDelete.length}), to add (${r.toAdd.length}) — as frr-reload.py would apply them:`,
  );
  out.push(...r.toDelete.map((l) => `  - ${l}`), ...r.toAdd.map((l) => `  + ${l}`));
  return `${out.join("\n")}\n`;
}
