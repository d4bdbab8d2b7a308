// Talks to the FRR daemons through FRR's own tools: vtysh (queries, batched config deltas)
// and frr-reload.py (validate and apply a whole file). Owns argv, timeouts and output parsing.

import { join } from "node:path";
import type { Runner, RunResult } from "../exec.js";
import {
  advertisedRoutesCommand,
  parseAdvertisedRoutes,
  parseAdvertisedRoutesText,
} from "./advertised-routes.js";
import { committedOnce } from "./config-delta.js";
import { VtyClient } from "./vty-client.js";

export interface FrrClientOptions {
  readonly vtysh: string;
  readonly reloadScript: string;
  /** FRR pathspace (-N); "" for the default instance. */
  readonly pathspace: string;
  /** Directory frr-reload.py uses for its temporary files (same volume as frr.conf). */
  readonly workDir: string;
  readonly reloadTimeoutMs: number;
  /** bgpd's vty socket: prefix deltas go there over one kept-open connection. Absent: `vtysh -f`. */
  readonly bgpdVtySocket?: string | undefined;
  /** The ASN of the `router bgp` the templates render; absent: read from what bgpd runs. */
  readonly bgpAsn?: number | undefined;
  /** Each advertised-routes read-back, by the form that answered (text, or JSON after the text did not add up). */
  readonly onReadBack?: (form: "text" | "json") => void;
}

export class FrrCommandError extends Error {
  override name = "FrrCommandError";
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    super(`${command} exited ${result.exitCode}: ${summarise(result)}`);
  }
}

export class FrrClient {
  private readonly bgpd: VtyClient | undefined;
  private tools: Promise<string> | undefined;

  constructor(
    private readonly run: Runner,
    private readonly opts: FrrClientOptions,
  ) {
    this.bgpd =
      opts.bgpdVtySocket === undefined ? undefined : new VtyClient(opts.bgpdVtySocket, opts.reloadTimeoutMs);
  }

  private vtysh(): string[] {
    return this.opts.pathspace === "" ? [this.opts.vtysh] : [this.opts.vtysh, "-N", this.opts.pathspace];
  }

  private reloadArgs(mode: "--test" | "--reload", file: string): string[] {
    const ns = this.opts.pathspace === "" ? [] : ["-N", this.opts.pathspace];
    const bindir = this.opts.vtysh.includes("/") ? ["--bindir", this.opts.vtysh.replace(/\/[^/]+$/, "")] : [];
    return [
      "python3",
      this.opts.reloadScript,
      mode,
      "--stdout",
      ...ns,
      ...bindir,
      "--rundir",
      this.opts.workDir,
      file,
    ];
  }

  /** True when bgpd and zebra answer. */
  async isUp(): Promise<boolean> {
    const r = await this.run([...this.vtysh(), "-c", "show daemons"], { timeoutMs: 5000 });
    return r.exitCode === 0 && /\bzebra\b/.test(r.stdout) && /\bbgpd\b/.test(r.stdout);
  }

  /**
   * FRR's version as this vtysh (and frr-reload.py, from the same package) knows it, and as the
   * running bgpd reports it. They must be equal: the CLI grammar and frr-reload.py's diff are
   * version-specific, and a sidecar image one release off would half-apply configs.
   */
  async versions(bgpdVtySocket: string): Promise<{ readonly tools: string; readonly daemon: string }> {
    const [tools, daemon] = await Promise.all([this.toolsVersion(), daemonVersion(bgpdVtySocket)]);
    return { tools, daemon };
  }

  /**
   * This container's vtysh's FRR version, read once: the binary does not change while the
   * sidecar runs. compose.ts asks early, so the first apply after a start (which waits for the
   * version check) does not wait for a vtysh process as well. A failed read is not kept.
   */
  toolsVersion(): Promise<string> {
    this.tools ??= this.readToolsVersion().catch((err: unknown) => {
      this.tools = undefined;
      throw err;
    });
    return this.tools;
  }

  private async readToolsVersion(): Promise<string> {
    const help = await this.run([this.opts.vtysh, "--help"], { timeoutMs: 5000 });
    const tools = /\(version ([^)\s]+)\)/.exec(`${help.stdout}${help.stderr}`)?.[1];
    if (tools === undefined) throw new Error(`cannot read the version from ${this.opts.vtysh} --help`);
    return tools;
  }

  /**
   * bgpd's running config, where the network statements live: over the kept-open connection when
   * there is one. vtysh's `show running-config` collects every daemon's and took seconds at 10k
   * prefixes (bench), which the first apply after a restart and the drain both wait for.
   */
  async bgpdRunningConfig(): Promise<string> {
    if (this.bgpd !== undefined) return this.bgpd.privileged("write terminal");
    const r = await this.run([...this.vtysh(), "-d", "bgpd", "-c", "show running-config"], {
      timeoutMs: 15000,
    });
    if (r.exitCode !== 0) throw new FrrCommandError("vtysh -d bgpd show running-config", r);
    return r.stdout;
  }

  /**
   * Parsed `show bgp summary json` (both families), for metrics and the drain. Asked over the
   * kept-open bgpd connection when there is one (no vtysh process every poll).
   */
  async bgpSummary(): Promise<unknown> {
    return this.bgpdJson("show bgp summary json", 5000);
  }

  /** The prefixes bgpd sends `peer` in `family` (over the kept-open bgpd connection when there is one). */
  async advertisedRoutes(peer: string, family: "ipv4" | "ipv6"): Promise<Set<string>> {
    const text = await this.bgpdShow(advertisedRoutesCommand(family, peer, "text"), 15000);
    const fromText = parseAdvertisedRoutesText(text);
    this.opts.onReadBack?.(fromText === undefined ? "json" : "text");
    return (
      fromText ??
      parseAdvertisedRoutes(await this.bgpdJson(advertisedRoutesCommand(family, peer, "json"), 15000))
    );
  }

  /** A JSON `show` command for bgpd; see bgpdShow. */
  private async bgpdJson(cmd: string, timeoutMs: number): Promise<unknown> {
    return JSON.parse(await this.bgpdShow(cmd, timeoutMs)) as unknown;
  }

  /** A `show` command for bgpd: over the kept-open connection when there is one, else vtysh. */
  private async bgpdShow(cmd: string, timeoutMs: number): Promise<string> {
    if (this.bgpd !== undefined) return this.bgpd.command(cmd);
    const r = await this.run([...this.vtysh(), "-c", cmd], { timeoutMs });
    if (r.exitCode !== 0) throw new FrrCommandError(`vtysh ${cmd}`, r);
    return r.stdout;
  }

  /** frr-reload.py --test: the lines it would change; throws when FRR's grammar rejects the file. */
  async diff(file: string): Promise<ReloadDiff> {
    const r = await this.run(this.reloadArgs("--test", file), { timeoutMs: this.opts.reloadTimeoutMs });
    // The exit code is the verdict: on a syntax error it still prints a (bogus) diff.
    if (r.exitCode !== 0) throw new FrrCommandError("frr-reload.py --test", r);
    return parseReloadDiff(r.stdout);
  }

  async reload(file: string): Promise<void> {
    const r = await this.run(this.reloadArgs("--reload", file), { timeoutMs: this.opts.reloadTimeoutMs });
    if (r.exitCode !== 0) throw new FrrCommandError("frr-reload.py --reload", r);
  }

  /**
   * Applies a batch of config lines (a prefix delta) at once: over the kept-open vty connection
   * to bgpd when configured and the batch is bgpd's alone, else with one vtysh process
   * (`vtysh -f`), which sends each daemon its part. A batch that removes a route-map goes that
   * way: every daemon that keeps route-maps (zebra too) took a copy from frr.conf when it
   * started, and none may keep an entry the file no longer has. Either way the first line FRR
   * rejects fails the batch.
   */
  async applyCommands(
    lines: readonly string[],
    batchFile: string,
    scope: "bgpd" | "all-daemons" = "bgpd",
  ): Promise<void> {
    if (this.bgpd !== undefined && scope === "bgpd") {
      // vtysh -f sends the same markers itself.
      await this.bgpd.configure(committedOnce(lines));
      return;
    }
    const { writeFile, rm } = await import("node:fs/promises");
    // vtysh -f reads the file in config mode already, like frr.conf itself.
    await writeFile(batchFile, `${lines.join("\n")}\n`, { mode: 0o640 });
    try {
      const r = await this.run([...this.vtysh(), "-f", batchFile], { timeoutMs: this.opts.reloadTimeoutMs });
      if (r.exitCode !== 0 || /^%/m.test(r.stdout) || /^%/m.test(r.stderr))
        throw new FrrCommandError("vtysh -f (delta)", r);
    } finally {
      await rm(batchFile, { force: true });
    }
  }

  /**
   * RFC 8326 for every peer of the BGP instance: `bgp graceful-shutdown` under `router bgp` makes
   * bgpd re-send every route with the GRACEFUL_SHUTDOWN community (65535:0), and with
   * local-preference 0 to iBGP peers; `on = false` re-sends them without. It is not in frr.conf,
   * so a full reload of a render switches it off again. Line by line (vtysh -c stops at the first
   * error too): after a rejected `router bgp` (another ASN runs), a pipelined next line would run
   * at the top level, where it is FRR's global graceful shutdown, which no later call would undo.
   */
  async gracefulShutdown(on: boolean, timeoutMs = 5000): Promise<void> {
    const asn = this.opts.bgpAsn ?? runningAsn(await this.bgpdRunningConfig());
    const lines = [`router bgp ${asn}`, `${on ? "" : "no "}bgp graceful-shutdown`];
    if (this.bgpd !== undefined) {
      await this.bgpd.configure(lines, { stepwise: true, timeoutMs });
      return;
    }
    const args = ["configure terminal", ...lines].flatMap((l) => ["-c", l]);
    const r = await this.run([...this.vtysh(), ...args], { timeoutMs });
    if (r.exitCode !== 0 || /^%/m.test(r.stdout) || /^%/m.test(r.stderr))
      throw new FrrCommandError(`vtysh ${lines[1] ?? ""}`, r);
  }

  /** Re-sends every peer's routes under the current outbound policy (no session reset). */
  async softClearOut(): Promise<void> {
    const r = await this.run([...this.vtysh(), "-c", "clear bgp * soft out"], { timeoutMs: 15000 });
    if (r.exitCode !== 0) throw new FrrCommandError("vtysh clear bgp * soft out", r);
  }

  /** Closes the kept-open vty connection (FRR restarted, or shutting down), never mid-batch. */
  disconnect(): void {
    void this.bgpd?.closeWhenIdle();
  }

  batchFilePath(): string {
    return join(this.opts.workDir, ".frr-advertiser-delta.conf");
  }
}

/** The ASN of bgpd's default instance (`router bgp N` without vrf or view). */
/** True when bgpd runs a BGP instance (a fresh FRR has none: no session exists to reset). */
export function runsBgpRouter(runningConfig: string): boolean {
  return /^router bgp /m.test(runningConfig);
}

export function runningAsn(runningConfig: string): number {
  const m = /^router bgp (\d+)\s*$/m.exec(runningConfig);
  if (m?.[1] === undefined) throw new Error("bgpd runs no default BGP instance");
  return Number(m[1]);
}

export interface ReloadDiff {
  readonly toDelete: readonly string[];
  readonly toAdd: readonly string[];
}

/**
 * Lines frr-reload.py --test always lists as "to add" although FRR runs them (FRR 8.4 does not
 * print them back, or prints the container's hostname): they are not drift.
 */
export const ALWAYS_READDED =
  /^(ip forwarding|ipv6 forwarding|service integrated-vtysh-config|hostname \S+|frr defaults \S+|frr version .*)$/;

/**
 * The delete-side twin of `hostname`: vtysh shows its own (the container's) hostname in the running
 * config, so unless the rendered one equals it, every run also lists `no hostname <container's>`.
 * And forwarding: FRR 10.3 in a container whose /proc/sys is read-only (any unprivileged
 * container) cannot switch IPv6 forwarding on; it then runs `no ipv6 forwarding` and every run
 * lists `ipv6 forwarding` to delete. Forwarding on a Kubernetes node is the kernel's and the CNI's.
 */
export const ALWAYS_DELETED = /^(no hostname \S+|ip forwarding|ipv6 forwarding)$/;

/** True when the diff holds nothing but lines FRR re-adds (or re-deletes) on every run. */
export function isEmptyDiff(d: ReloadDiff): boolean {
  return d.toDelete.every((l) => ALWAYS_DELETED.test(l)) && d.toAdd.every((l) => ALWAYS_READDED.test(l));
}

/** Reads frr-reload.py --test output: "Lines To Delete" / "Lines To Add" sections. */
export function parseReloadDiff(stdout: string): ReloadDiff {
  const toDelete: string[] = [];
  const toAdd: string[] = [];
  let section: string[] | undefined;
  for (const line of stdout.split("\n")) {
    if (/^Lines To Delete/.test(line)) section = toDelete;
    else if (/^Lines To Add/.test(line)) section = toAdd;
    else if (/^=+$/.test(line.trim()) || line.trim() === "") continue;
    else if (section !== undefined) section.push(line.trim());
  }
  return { toDelete, toAdd };
}

/** A short, secret-free account of a failed command for logs and errors. */
function summarise(r: RunResult): string {
  const text = `${r.stderr}\n${r.stdout}`
    .split("\n")
    .filter((l) => l.trim() !== "")
    .slice(-8)
    .join(" | ");
  return redactSecrets(text).slice(0, 2000);
}

/** frr-reload echoes config lines: never let a BGP password reach a log (as frr-k8s does). */
export function redactSecrets(text: string): string {
  return text.replace(/(\bpassword\s+)\S+/gi, "$1<redacted>");
}

/** The running bgpd's FRR version, over a connection of its own to bgpd's vty socket. */
async function daemonVersion(bgpdVtySocket: string): Promise<string> {
  const vty = new VtyClient(bgpdVtySocket, 5000);
  try {
    const shown = await vty.command("show version");
    const daemon = /FRRouting (\S+)/.exec(shown)?.[1];
    if (daemon === undefined) throw new Error(`cannot read bgpd's version from: ${shown.slice(0, 200)}`);
    return daemon;
  } finally {
    vty.close();
  }
}
