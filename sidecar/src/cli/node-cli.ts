// What the commands run next to a node's FRR (`run`, `why`, `diff`) share: where the config file
// is, loading it with the pod's environment, and a vtysh-based FrrClient for one-shot questions.

import type { Config } from "../config/load-config.js";
import { loadConfigFile } from "../config/load-config.js";
import { createRunner } from "../exec.js";
import { FrrClient } from "../frr/frr-client.js";
import type { CliIo } from "./render-command.js";

export const DEFAULT_CONFIG_FILE = "/etc/frr-advertiser/config.yaml";

/** --config, else $CONFIG_FILE, else the chart's mount point. */
export function configPathOf(option: string | undefined, io: CliIo): string {
  return option ?? io.env["CONFIG_FILE"] ?? DEFAULT_CONFIG_FILE;
}

/** The node's config as the sidecar itself loads it (NODE_NAME from the pod's environment). */
export function loadNodeConfig(option: string | undefined, io: CliIo): Promise<Config> {
  return loadConfigFile(configPathOf(option, io), { NODE_NAME: io.env["NODE_NAME"] });
}

/** An FrrClient over vtysh (no kept vty connection): for commands that ask FRR a few things once. */
export function vtyshFrrClient(config: Config, workDir: string): FrrClient {
  const timeoutMs = config.timings.reloadTimeoutSeconds * 1000;
  return new FrrClient(createRunner(timeoutMs), {
    vtysh: config.frr.vtysh,
    reloadScript: config.frr.reloadScript,
    pathspace: config.frr.pathspace,
    workDir,
    reloadTimeoutMs: timeoutMs,
    bgpdVtySocket: undefined,
  });
}
