// `frr-advertiser test-templates DIR`: runs a template directory against its cases (objects,
// config, expected frr.conf): render, FRR's own parser, the invariants of render/template-invariants,
// and the expected output. Offline: no API server, no running FRR. Exit 0 pass, 1 fail, 2 error.

import { structuredPatch } from "diff";
import { execFile } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, parseConfig } from "../config/load-config.js";
import { compileTemplates, type CompiledTemplates } from "../render/renderer.js";
import { checkInvariants, type InvariantInput } from "../render/template-invariants.js";
import { loadTemplateDir } from "../templates/load-template-dir.js";
import { InputError, parseObjects } from "./read-objects.js";
import { bundledTemplatesDir, renderObjects, type CliIo } from "./render-command.js";

const USAGE = `usage: frr-advertiser test-templates DIR [--cases DIR] [--update] [--output text|json]
  DIR            the template directory (frr.conf.hbs, partials/*.hbs)
  --cases DIR    one sub-directory per case: config.yaml, objects.yaml, expected.conf
                 (default: DIR/cases, else the cases shipped with the default templates)
  --update       rewrite each case's expected.conf with the render (review the change like code)
exit codes: 0 every case passes, 1 a case fails, 2 usage or input error`;

/** Env VTYSH names another vtysh (tests, odd installs). */
const DEFAULT_VTYSH = "vtysh";

export interface CaseResult {
  readonly name: string;
  readonly pass: boolean;
  /** One sentence per failure: render error, FRR's complaints, broken invariants, differing output. */
  readonly problems: readonly string[];
  readonly frr: "accepted" | "rejected" | "skipped";
  /** Unified-style lines of expected.conf (-) against the render (+); [] when equal. */
  readonly diff: readonly string[];
  readonly updated: boolean;
}

export interface TestTemplatesReport {
  readonly templates: string;
  readonly cases: string;
  /** Why FRR's parser was not run, or undefined when it was. */
  readonly frrCheckSkipped: string | undefined;
  readonly results: readonly CaseResult[];
  readonly pass: boolean;
}

export async function runTestTemplatesCommand(argv: readonly string[], io: CliIo): Promise<number> {
  let opts;
  try {
    opts = parseTestArgs(argv);
  } catch (err) {
    io.stderr(`frr-advertiser test-templates: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (opts === "help") {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  try {
    const casesDir = resolveCasesDir(opts.templates, opts.cases, opts.update);
    const names = await listCases(casesDir);
    let templates: CompiledTemplates;
    try {
      templates = compileTemplates(await loadTemplateDir(opts.templates));
    } catch (err) {
      if (!isTemplateError(err)) throw err;
      io.stderr(`FAIL templates ${opts.templates}: ${(err as Error).message}\n`);
      return 1;
    }
    const vtysh = io.env["VTYSH"] ?? DEFAULT_VTYSH;
    const frrCheckSkipped = (await commandExists(vtysh))
      ? undefined
      : `no ${vtysh} on PATH (install FRR, or run the command in the image)`;
    const results: CaseResult[] = [];
    for (const name of names) {
      results.push(await runCase(join(casesDir, name), name, templates, vtysh, frrCheckSkipped, opts.update));
    }
    const report: TestTemplatesReport = {
      templates: opts.templates,
      cases: casesDir,
      frrCheckSkipped,
      results,
      pass: results.every((r) => r.pass),
    };
    io.stdout(opts.output === "json" ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.pass ? 0 : 1;
  } catch (err) {
    if (err instanceof InputError || err instanceof ConfigError) {
      io.stderr(`frr-advertiser test-templates: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

function parseTestArgs(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      cases: { type: "string" },
      update: { type: "boolean", default: false },
      output: { type: "string", default: "text" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help === true) return "help" as const;
  if (positionals.length !== 1) throw new Error("give exactly one template directory");
  if (values.output !== "text" && values.output !== "json") throw new Error("--output is text or json");
  return {
    templates: resolve(positionals[0] ?? ""),
    cases: values.cases === undefined ? undefined : resolve(values.cases),
    update: values.update,
    output: values.output,
  };
}

function resolveCasesDir(templates: string, cases: string | undefined, update: boolean): string {
  if (cases !== undefined) {
    if (!existsSync(cases)) throw new InputError(`--cases ${cases}: no such directory`);
    return cases;
  }
  const own = join(templates, "cases");
  if (existsSync(own)) return own;
  const bundled = join(bundledTemplatesDir(), "cases");
  // The shipped cases belong to the default templates: --update must not rewrite them for others.
  if (update && realpathSync(templates) !== realpathSync(bundledTemplatesDir())) {
    throw new InputError(
      `${templates} has no cases/ directory, and --update does not rewrite the shipped cases; copy them first: cp -r ${bundled} ${own}`,
    );
  }
  return bundled;
}

async function listCases(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new InputError(`cannot list the cases in ${dir}: ${(err as Error).message}`);
  }
  // A ConfigMap mount shows its own `..data` directories: dot names are never cases.
  const names = entries
    .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith("."))
    .map((e) => e.name)
    .filter((n) => existsSync(join(dir, n, "config.yaml")))
    .sort();
  if (names.length === 0) throw new InputError(`${dir}: no cases (directories holding config.yaml)`);
  return names;
}

async function runCase(
  dir: string,
  name: string,
  templates: CompiledTemplates,
  vtysh: string,
  frrCheckSkipped: string | undefined,
  update: boolean,
): Promise<CaseResult> {
  const failed = (problem: string): CaseResult => ({
    name,
    pass: false,
    problems: [problem],
    frr: "skipped",
    diff: [],
    updated: false,
  });
  const configFile = join(dir, "config.yaml");
  const objectsFile = join(dir, "objects.yaml");
  let rendered;
  try {
    // Password files are named relative to the case; config.yaml's nodeName picks the node.
    const config = await parseConfig(await readFile(configFile, "utf8"), configFile, {}, async (file) =>
      (await readFile(resolve(dir, file), "utf8")).replace(/\r?\n$/, ""),
    );
    const objects = parseObjects(await readFile(objectsFile, "utf8"), objectsFile);
    rendered = { config, ...renderObjects(config, objects, templates, objectsFile) };
  } catch (err) {
    if (err instanceof ConfigError || err instanceof InputError || isTemplateError(err))
      return failed(`does not render: ${(err as Error).message}`);
    if (err instanceof Error && "code" in err) return failed(`cannot read the case: ${err.message}`);
    throw err;
  }
  const { config, context, frrConf } = rendered;
  const problems: string[] = [];

  let frr: CaseResult["frr"] = "skipped";
  if (frrCheckSkipped === undefined) {
    const errors = await vtyshDryRun(vtysh, frrConf);
    frr = errors.length === 0 ? "accepted" : "rejected";
    for (const e of errors) problems.push(`FRR rejects it: ${e}`);
  }

  const input: InvariantInput = {
    asn: context.asn,
    mode: context.mode,
    interface: context.interface,
    families: context.families.map((f) => f.afi),
    allowedCidrs: config.policy.allowedCidrs,
    excludedIps: config.policy.excludedIps,
    prefixes: context.families.flatMap((f) => f.prefixes.map((p) => ({ prefix: p.prefix, family: f.afi }))),
    neighbors: context.neighbors,
  };
  problems.push(...checkInvariants(frrConf, input));

  const expectedFile = join(dir, "expected.conf");
  const expected = existsSync(expectedFile) ? await readFile(expectedFile, "utf8") : undefined;
  const diff = expected === undefined ? [] : lineDiff(expected, frrConf);
  let updated = false;
  if (update && expected !== frrConf) {
    await writeFile(expectedFile, frrConf);
    updated = true;
  } else if (expected === undefined) {
    problems.push("expected.conf is missing (--update writes it)");
  } else if (diff.length > 0) {
    problems.push("the render differs from expected.conf (--update rewrites it after you review the diff)");
  }
  return { name, pass: problems.length === 0, problems, frr, diff, updated };
}

/** FRR's complaints about the file ("line N: % Unknown command: …"), from its real CLI grammar. */
async function vtyshDryRun(vtysh: string, text: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "frr-advertiser-test-"));
  try {
    const file = join(dir, "frr.conf");
    await writeFile(file, text, { mode: 0o644 });
    const { code, output } = await new Promise<{ code: number; output: string }>((done) => {
      execFile(vtysh, ["--dryrun", "-f", file], { timeout: 60_000 }, (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
        done({
          code: status,
          output: `${stdout}\n${stderr}${err !== null && stdout + stderr === "" ? err.message : ""}`,
        });
      });
    });
    const errors = output
      .split("\n")
      // vtysh's own config file is optional: its absence says nothing about the checked file.
      .filter((l) => l.includes("% ") && !/Can't open configuration file .*vtysh\.conf/.test(l))
      .map((l) => l.trim());
    if (code !== 0 && errors.length === 0)
      errors.push(`vtysh --dryrun exited ${String(code)}: ${output.trim()}`);
    return errors;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function commandExists(cmd: string): Promise<boolean> {
  return new Promise((done) => {
    execFile("sh", ["-c", 'command -v "$1"', "sh", cmd], (err) => {
      done(err === null);
    });
  });
}

const CONTEXT_LINES = 2;
const MAX_DIFF_LINES = 60;

/** The differing lines of two texts with a little context, unified-style (`-` expected, `+` actual). */
export function lineDiff(expected: string, actual: string): string[] {
  if (expected === actual) return [];
  const patch = structuredPatch("expected.conf", "rendered", expected, actual, "", "", {
    context: CONTEXT_LINES,
  });
  const out = patch.hunks.flatMap((h) => [`@@ expected.conf line ${String(h.oldStart)} @@`, ...h.lines]);
  return out.length > MAX_DIFF_LINES
    ? [...out.slice(0, MAX_DIFF_LINES), `… ${String(out.length - MAX_DIFF_LINES)} more diff lines`]
    : out;
}

export function formatReport(r: TestTemplatesReport): string {
  const out = [`templates ${r.templates}, cases ${r.cases}`];
  if (r.frrCheckSkipped !== undefined) out.push(`FRR check skipped: ${r.frrCheckSkipped}`);
  for (const c of r.results) {
    const frr = c.frr === "skipped" ? "" : c.frr === "accepted" ? ", FRR accepts it" : ", FRR rejects it";
    out.push(`${c.pass ? "PASS" : "FAIL"} ${c.name}${frr}${c.updated ? " (expected.conf updated)" : ""}`);
    for (const p of c.problems) out.push(`  - ${p}`);
    if (c.diff.length > 0 && !c.updated) out.push(...c.diff.map((l) => `    ${l}`));
  }
  const failed = r.results.filter((c) => !c.pass).length;
  out.push(
    `${String(r.results.length - failed)} passed, ${String(failed)} failed${r.frrCheckSkipped === undefined ? "" : " (FRR check skipped)"}`,
  );
  return `${out.join("\n")}\n`;
}

/** Errors of the templates themselves (compile, load, render), not of the command's input. */
function isTemplateError(err: unknown): boolean {
  return err instanceof Error && (err.name === "RenderError" || err.name === "TemplateLoadError");
}
