// What a test needs of the machine (a command, a file, root, a user, the product's image), checked
// one way for every suite: missing → a skip that says what to install; where skips are not allowed
// (CI, or FA_REQUIRE_TOOLS=1) the same check throws instead, so nothing passes by not running.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { PODMAN_ENV } from "../lab/image-frr.js";

/**
 * A command on PATH (`vtysh`), a file (`/usr/lib/frr/frr-reload.py`), `podman image NAME`,
 * `user NAME`, `root`, `linux` — or a check of its own: `missing` returns what is missing, or
 * undefined when it is there.
 */
export type Requirement = string | { readonly name: string; readonly missing: () => string | undefined };

/** How to get what a name needs, where that is not obvious from the name. */
const HINTS: Readonly<Record<string, string>> = {
  vtysh: "apt-get install frr",
  "/usr/lib/frr/frr-reload.py": "apt-get install frr-pythontools",
  ip: "apt-get install iproute2",
  podman: "apt-get install podman runc",
  "user frr": "apt-get install frr",
};

function hint(name: string): string {
  const known = HINTS[name];
  if (known !== undefined) return ` (${known})`;
  if (name.startsWith("/usr/lib/frr/")) return " (apt-get install frr)";
  if (name.startsWith("podman image ")) return " (npm run image)";
  // Debian's package of a command is mostly named after it: shellcheck, python3, openssl, curl.
  return /^[a-z0-9][a-z0-9.+-]*$/.test(name) ? ` (apt-get install ${name})` : "";
}

function commandOnPath(cmd: string): boolean {
  return spawnSync("sh", ["-c", 'command -v "$1"', "sh", cmd], { stdio: "ignore" }).status === 0;
}

function userExists(name: string): boolean {
  try {
    if (
      readFileSync("/etc/passwd", "utf8")
        .split("\n")
        .some((l) => l.split(":")[0] === name)
    )
      return true;
  } catch {
    /* no /etc/passwd: ask NSS */
  }
  return spawnSync("getent", ["passwd", name], { stdio: "ignore" }).status === 0;
}

/** What is missing of one requirement, or undefined when the machine has it. */
export function missingOf(need: Requirement): string | undefined {
  if (typeof need !== "string") return need.missing();
  if (need === "linux")
    return process.platform === "linux" ? undefined : `Linux (this is ${process.platform})`;
  if (need === "root") return process.getuid?.() === 0 ? undefined : "root (run the tests as root)";
  if (need.startsWith("user ")) return userExists(need.slice(5)) ? undefined : `${need}${hint(need)}`;
  if (need.startsWith("podman image ")) {
    if (!commandOnPath("podman")) return `podman${hint("podman")}`;
    const image = need.slice("podman image ".length);
    const found = spawnSync("podman", ["image", "exists", image], { env: PODMAN_ENV, stdio: "ignore" });
    return found.status === 0 ? undefined : `${need}${hint(need)}`;
  }
  if (isAbsolute(need)) return existsSync(need) ? undefined : `${need}${hint(need)}`;
  return commandOnPath(need) ? undefined : `${need} on PATH${hint(need)}`;
}

/**
 * Whether a missing requirement may skip a test: not in CI (CI set to anything but "", 0 or
 * false), nor with FA_REQUIRE_TOOLS=1; FA_REQUIRE_TOOLS=0 allows skips even where CI is set.
 */
export function skipsAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  const required = env["FA_REQUIRE_TOOLS"];
  if (required === "1") return false;
  if (required === "0") return true;
  const ci = (env["CI"] ?? "").trim().toLowerCase();
  return ci === "" || ci === "0" || ci === "false";
}

export interface RequireOptions {
  /** Who needs it, for the message ("netns lab"); default "test". */
  readonly for?: string;
  /** Default process.env (tests of this module pass their own). */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * A `skip` value: false when everything is here, else the reason to skip. Where skips are not
 * allowed (see skipsAllowed) it throws instead, naming what is missing — a suite that calls it at
 * load time then fails as a whole, a test that calls it in its body fails on its own.
 */
export function requireTool(
  needs: Requirement | readonly Requirement[],
  opts: RequireOptions = {},
): string | false {
  const list: readonly Requirement[] = Array.isArray(needs) ? needs : [needs as Requirement];
  const missing = list.flatMap((n) => missingOf(n) ?? []);
  if (missing.length === 0) return false;
  const who = opts.for ?? "test";
  if (!skipsAllowed(opts.env)) {
    throw new Error(
      `${who} cannot run here and skipping is not allowed (CI or FA_REQUIRE_TOOLS=1): missing ${missing.join("; ")}`,
    );
  }
  return `${who} skipped: missing ${missing.join("; ")}`;
}

/** In a test body: skips `t` (returns true) when something is missing; throws where skips are not allowed. */
export function skippedWithout(
  t: { skip(message?: string): void },
  needs: Requirement | readonly Requirement[],
  opts: RequireOptions = {},
): boolean {
  const reason = requireTool(needs, opts);
  if (reason === false) return false;
  t.skip(reason);
  return true;
}
