// Reads Kubernetes objects from a file or stdin: a kubectl `List`, multi-document YAML, or JSON.

import { readFile } from "node:fs/promises";
import { parseAllDocuments } from "yaml";

export class InputError extends Error {
  override name = "InputError";
}

export async function readObjectsFile(path: string, stdin: () => Promise<string>): Promise<unknown[]> {
  const source = path === "-" ? "stdin" : path;
  let text: string;
  try {
    text = path === "-" ? await stdin() : await readFile(path, "utf8");
  } catch (err) {
    throw new InputError(`${source}: cannot read the file: ${(err as Error).message}`);
  }
  return parseObjects(text, source);
}

export function parseObjects(text: string, source: string): unknown[] {
  // JSON is YAML, so one parser covers `-o json`, `-o yaml` and hand-written multi-doc files.
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const objects: unknown[] = [];
  for (const doc of list) {
    if (doc.errors.length > 0) {
      const first = doc.errors[0];
      throw new InputError(`${source}: invalid YAML/JSON: ${first?.message.split("\n")[0] ?? "parse error"}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value)) {
      throw new InputError(
        `${source}: expected Kubernetes objects (mappings with kind), got ${Array.isArray(value) ? "a sequence" : typeof value}`,
      );
    }
    objects.push(value);
  }
  if (objects.length === 0) throw new InputError(`${source}: no Kubernetes objects found`);
  return objects;
}
