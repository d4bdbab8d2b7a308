// `frr-advertiser render`: what frr.conf would this node get from a file of Kubernetes objects,
// with the verdict for every (service, address). Offline: no API server, no FRR.

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfigFile, parseConfig, type Config } from "../config/load-config.js";
import { objectsToSnapshot } from "../kube/to-snapshot.js";
import { computeDesiredState } from "../model/desired-state.js";
import type { DesiredState } from "../model/desired-state-types.js";
import { toTemplateContext } from "../render/context.js";
import type { TemplateContext } from "../render/context-types.js";
import { compileTemplates, renderFrrConf, type CompiledTemplates } from "../render/renderer.js";
import { loadTemplateDir } from "../templates/load-template-dir.js";
import { InputError, readObjectsFile } from "./read-objects.js";

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly stdin: () => Promise<string>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Used when --config is not given: renders with no neighbours and every address family allowed. */
export const DEFAULT_RENDER_CONFIG = `
bgp:
  asn: 64512
advertise:
  allowedCidrs: ["0.0.0.0/0", "::/0"]
`;

/** The package's own frr-templates/, found from this file whether it runs from src/ (tsx) or dist/. */
export function bundledTemplatesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "frr-templates", "frr.conf.hbs"))) return join(dir, "frr-templates");
    const parent = dirname(dir);
    if (parent === dir)
      throw new InputError("cannot find the bundled frr-templates/ directory; pass --templates DIR");
    dir = parent;
  }
}

const USAGE = `usage: frr-advertiser render --objects FILE|- --node NAME [--config FILE] [--templates DIR] [--explain] [--output text|json]`;

export async function runRenderCommand(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  try {
    const opts = parseRenderArgs(argv);
    const config = await loadRenderConfig(opts.config, opts.node);
    const objects = await readObjectsFile(opts.objects, io.stdin);
    const templates = compileTemplates(await loadTemplateDir(opts.templates ?? bundledTemplatesDir()));
    const { frrConf, state, problems } = renderObjects(
      config,
      objects,
      templates,
      opts.objects === "-" ? "stdin" : opts.objects,
    );
    if (opts.output === "json")
      io.stdout(`${JSON.stringify(toJsonOutput(frrConf, state, problems), null, 2)}\n`);
    else writeText(io, frrConf, state, problems, opts.explain);
    return 0;
  } catch (err) {
    if (err instanceof InputError || err instanceof ConfigError || isExpected(err)) {
      io.stderr(`frr-advertiser render: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
}

export interface ObjectsRender {
  readonly frrConf: string;
  readonly state: DesiredState;
  readonly context: TemplateContext;
  /** Objects the converter could not read, and the model's problems. */
  readonly problems: readonly string[];
}

/**
 * The render of config.nodeName from Kubernetes objects: what `render` prints and what
 * `test-templates` checks, so both see the same frr.conf. `source` names the objects in errors.
 */
export function renderObjects(
  config: Config,
  objects: readonly unknown[],
  templates: CompiledTemplates,
  source: string,
): ObjectsRender {
  const { snapshot, nodes, problems: objectProblems } = objectsToSnapshot(objects);
  const node = nodes.find((n) => n.name === config.nodeName);
  if (node === undefined) {
    const known =
      nodes
        .map((n) => n.name)
        .sort()
        .join(", ") || "none";
    throw new InputError(`${source}: node "${config.nodeName}" not found (nodes in the file: ${known})`);
  }
  const state = computeDesiredState(snapshot, node, config.policy);
  const context = toTemplateContext(config, state);
  return {
    frrConf: renderFrrConf(templates, context),
    state,
    context,
    problems: [...objectProblems, ...state.problems],
  };
}

interface RenderOptions {
  objects: string;
  node: string;
  config: string | undefined;
  templates: string | undefined;
  explain: boolean;
  output: "text" | "json";
}

function parseRenderArgs(argv: readonly string[]): RenderOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        objects: { type: "string" },
        node: { type: "string" },
        config: { type: "string" },
        templates: { type: "string" },
        explain: { type: "boolean", default: false },
        output: { type: "string", default: "text" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new InputError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.objects === undefined) throw new InputError(`--objects is required\n${USAGE}`);
  if (values.node === undefined) throw new InputError(`--node is required\n${USAGE}`);
  if (values.output !== "text" && values.output !== "json") {
    throw new InputError(`--output must be text or json, got "${values.output}"`);
  }
  return {
    objects: values.objects,
    node: values.node,
    config: values.config,
    templates: values.templates,
    explain: values.explain,
    output: values.output,
  };
}

async function loadRenderConfig(path: string | undefined, node: string): Promise<Config> {
  // --node names the node; the file's nodeName and NODE_NAME must not override it.
  const env = { NODE_NAME: node };
  if (path !== undefined) return loadConfigFile(path, env);
  return parseConfig(DEFAULT_RENDER_CONFIG, "built-in default config", env, () =>
    Promise.reject(new Error("no password files in the default config")),
  );
}

function toJsonOutput(frrConf: string, state: DesiredState, problems: readonly string[]) {
  return {
    frrConf,
    decisions: state.decisions.map((d) => ({
      service: d.service,
      address: d.address,
      kind: d.kind,
      advertise: d.advertise,
      reason: d.reason,
      ...(d.weight === undefined ? {} : { weight: d.weight }),
    })),
    problems,
  };
}

function writeText(
  io: CliIo,
  frrConf: string,
  state: DesiredState,
  problems: readonly string[],
  explain: boolean,
): void {
  io.stdout(frrConf);
  // Verdicts are FRR comments, so the output stays a valid frr.conf even with --explain.
  if (explain) {
    io.stdout("!\n! frr-advertiser verdicts (service address kind: verdict)\n");
    for (const d of state.decisions) {
      io.stdout(
        `${oneLine(`! ${d.service} ${d.address || "-"} ${d.kind}: ${d.advertise ? "ADVERTISE" : "skip"} (${d.reason})`)}\n`,
      );
    }
  }
  for (const p of problems) io.stderr(`warning: ${p}\n`);
}

/** Errors from our own loaders that describe bad input rather than a bug. */
function isExpected(err: unknown): boolean {
  return err instanceof Error && (err.name === "RenderError" || err.name === "TemplateLoadError");
}

/** Comment lines must stay one line whatever a bogus input file put in names or reasons. */
function oneLine(s: string): string {
  return s.replace(/[\r\n\u2028\u2029]+/g, " ");
}
