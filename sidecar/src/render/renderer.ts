// Compiles the frr.conf templates in an isolated Handlebars environment and renders them.
// Pure given the template sources: no file access, no global state, only Handlebars' built-in helpers.

import Handlebars from "handlebars";
import type { TemplateContext } from "./context-types.js";
import { EMPTY_DESIRED_STATE, toTemplateContext, type RenderConfig } from "./context.js";

export interface TemplateSources {
  /** frr.conf.hbs */
  readonly main: string;
  /** Partial name (file name without .hbs) → source. */
  readonly partials: Readonly<Record<string, string>>;
}

export interface CompiledTemplates {
  readonly render: (context: TemplateContext) => string;
}

export const MAIN_TEMPLATE = "frr.conf.hbs";

export function partialFileName(name: string): string {
  return `partials/${name}.hbs`;
}

/** A template that cannot be parsed or rendered; `template` names the file, `detail` is Handlebars' message. */
export class RenderError extends Error {
  constructor(
    readonly template: string,
    readonly detail: string,
  ) {
    super(`template ${template}: ${detail}`);
    this.name = "RenderError";
  }
}

/**
 * strict: a missing field is an error, not an empty string (a typo must not silently drop a line).
 * noEscape: this is a config file, not HTML ("&" in a password stays "&").
 * knownHelpersOnly: only Handlebars' built-ins (if, unless, each, with, lookup); decisions belong
 * in the context, and an unknown helper fails at compile time instead of at the first render.
 */
const COMPILE_OPTIONS: CompileOptions = { strict: true, noEscape: true, knownHelpersOnly: true };

export function compileTemplates(sources: TemplateSources): CompiledTemplates {
  const env = Handlebars.create();
  requireDefinedArguments(env);
  for (const name of Object.keys(sources.partials).sort()) {
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      throw new RenderError(partialFileName(name), "a partial name may hold only letters, digits, _ and -");
    }
    env.registerPartial(name, compileOne(env, partialFileName(name), sources.partials[name] ?? ""));
  }
  const main = compileOne(env, MAIN_TEMPLATE, sources.main);
  return { render: (context) => main(context) };
}

/**
 * Strict mode does not check helper arguments: `{{#if gracefullRestart}}` (a typo) would
 * silently drop its line. The context never holds undefined (absent values are "" or false), so
 * the built-in block helpers refuse an undefined argument. This adds no rendering logic.
 */
function requireDefinedArguments(env: typeof Handlebars): void {
  for (const name of ["if", "unless", "each", "with"]) {
    const builtin = env.helpers[name];
    if (builtin === undefined) throw new Error(`Handlebars has no built-in ${name} helper`);
    env.registerHelper(name, function (this: unknown, ...args: unknown[]): unknown {
      const options = args.at(-1) as { loc?: hbs.AST.SourceLocation } | undefined;
      if (args.length === 2 && args[0] === undefined) {
        // Same " - LINE:COLUMN" suffix as Handlebars' own errors, formatted by toRenderError.
        const at =
          options?.loc === undefined ? "" : ` - ${options.loc.start.line}:${options.loc.start.column}`;
        throw new Error(`"#${name}" argument not defined${at}`);
      }
      return Reflect.apply(builtin, this, args) as unknown;
    });
  }
}

/**
 * Compiles now (Handlebars compiles lazily) so template errors name their file at load time, and
 * wraps the template so a render error names the innermost template it happened in.
 */
function compileOne(env: typeof Handlebars, file: string, source: string): Handlebars.TemplateDelegate {
  let template: Handlebars.TemplateDelegate;
  try {
    // compile() is lazy; precompile() runs the whole compiler now (parse and knownHelpersOnly errors).
    env.precompile(source, COMPILE_OPTIONS);
    template = env.compile(source, COMPILE_OPTIONS);
  } catch (err) {
    throw toRenderError(file, err);
  }
  return (context: unknown, options?: Handlebars.RuntimeOptions) => {
    try {
      return template(context, options);
    } catch (err) {
      throw toRenderError(file, err);
    }
  };
}

function toRenderError(file: string, err: unknown): RenderError {
  if (err instanceof RenderError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // Strict lookups print the object as "[object Object]"; the field name and position say enough.
  // Handlebars ends located messages with " - LINE:COLUMN" (column from 0).
  const detail = message
    .replace(/ in \[object Object\]/g, "")
    .replace(
      / - (\d+):(\d+)$/,
      (_m, line: string, col: string) => ` (line ${line}, column ${Number(col) + 1})`,
    );
  return new RenderError(file, detail.trim());
}

/** Renders and normalises: no trailing spaces, at most one blank line in a row, one final newline. */
export function renderFrrConf(compiled: CompiledTemplates, context: TemplateContext): string {
  const text = compiled.render(context);
  const lines = text.split(/\r?\n/).map((line) => line.trimEnd());
  return `${lines
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .replace(/^\n+|\n+$/g, "")}\n`;
}

/**
 * Renders the empty desired state: run at start and on every template change, so a broken
 * template is refused before it could replace the last good one.
 */
export function trialRender(compiled: CompiledTemplates, config: RenderConfig): string {
  return renderFrrConf(compiled, toTemplateContext(config, EMPTY_DESIRED_STATE));
}

type CompileOptions = Parameters<typeof Handlebars.compile>[1];
