// How the image's ENTRYPOINT starts the sidecar — the environment it sets for node (through
// env(1)) and node's flags — read from the Dockerfile, so the benchmark runs the bundle exactly as
// the image does.

import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface ImageNodeLaunch {
  /** NAME=value words between /usr/bin/env and node (glibc allocator settings, node's compile cache). */
  readonly env: Readonly<Record<string, string>>;
  /** The words between the node binary and the bundle. */
  readonly flags: readonly string[];
}

/** Parses the Dockerfile's exec-form ENTRYPOINT: [tini, --, (env, NAME=value…,) node, flags…, bundle]. */
export function imageNodeLaunch(repo: string): ImageNodeLaunch {
  const dockerfile = readFileSync(join(repo, "Dockerfile"), "utf8");
  const line = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1];
  if (line === undefined) throw new Error("Dockerfile: no exec-form ENTRYPOINT");
  const words = JSON.parse(line) as string[];
  const node = words.findIndex((w) => w.endsWith("/node"));
  if (node < 0 || !words.at(-1)?.endsWith(".mjs"))
    throw new Error(`Dockerfile: unexpected ENTRYPOINT ${line}`);
  const envAt = words.findIndex((w) => w === "/usr/bin/env");
  const assignments = envAt < 0 || envAt > node ? [] : words.slice(envAt + 1, node);
  const env: Record<string, string> = {};
  for (const a of assignments) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(a);
    if (m === null) throw new Error(`Dockerfile: ENTRYPOINT env word ${a} is not NAME=value`);
    env[m[1] ?? ""] = m[2] ?? "";
  }
  return { env, flags: words.slice(node + 1, -1) };
}
