// Reads a template directory (frr.conf.hbs + partials/*.hbs) into TemplateSources for render/.
// The only file access for templates; it does not compile them (render/ does, purely).

import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { MAIN_TEMPLATE, type TemplateSources } from "../render/renderer.js";

/** A template file that is missing or unreadable; the message names the file. */
export class TemplateLoadError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`template ${file}: ${reason}`);
    this.name = "TemplateLoadError";
  }
}

const PARTIAL_FILE = /^([A-Za-z0-9_-]+)\.hbs$/;

export async function loadTemplateDir(dir: string): Promise<TemplateSources> {
  const main = await readTemplate(join(dir, MAIN_TEMPLATE));
  const partialsDir = join(dir, "partials");
  const partials: Record<string, string> = {};
  for (const file of await listPartials(partialsDir)) {
    const name = PARTIAL_FILE.exec(file)?.[1];
    if (name === undefined) {
      throw new TemplateLoadError(
        join(partialsDir, file),
        "a partial's name may hold only letters, digits, _ and -",
      );
    }
    partials[name] = await readTemplate(join(partialsDir, file));
  }
  return { main, partials };
}

/**
 * Every *.hbs, sorted. Entries are not filtered by type: a ConfigMap mount makes each file a
 * symlink (into a `..data` directory, which the dot rule skips) and readFile follows symlinks.
 */
async function listPartials(partialsDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(partialsDir);
  } catch (err) {
    // No partials directory is fine: a main template may be self-contained.
    if (errorCode(err) === "ENOENT") return [];
    throw new TemplateLoadError(partialsDir, `cannot list the directory: ${errorMessage(err)}`);
  }
  return names.filter((n) => n.endsWith(".hbs") && !n.startsWith(".")).sort();
}

async function readTemplate(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    const reason = errorCode(err) === "ENOENT" ? "missing" : `cannot read: ${errorMessage(err)}`;
    throw new TemplateLoadError(file, reason);
  }
}

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && "code" in err && typeof err.code === "string" ? err.code : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
