// The node flags the image's ENTRYPOINT starts the sidecar with, read from the Dockerfile, so the
// benchmark runs the bundle exactly as the image does.

import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The words between the node binary and the bundle in the Dockerfile's exec-form ENTRYPOINT. */
export function imageNodeFlags(repo: string): string[] {
  const dockerfile = readFileSync(join(repo, "Dockerfile"), "utf8");
  const line = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1];
  if (line === undefined) throw new Error("Dockerfile: no exec-form ENTRYPOINT");
  const words = JSON.parse(line) as string[];
  const node = words.findIndex((w) => w.endsWith("/node"));
  if (node < 0 || !words.at(-1)?.endsWith(".mjs"))
    throw new Error(`Dockerfile: unexpected ENTRYPOINT ${line}`);
  return words.slice(node + 1, -1);
}
