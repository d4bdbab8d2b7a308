// Counting, timing wrappers for the external programs the sidecar runs. The bench config points
// frr.vtysh and frr.reloadScript at them and puts their directory first on the sidecar's PATH
// (for `ip`, and `python3` → /usr/bin/python3, the interpreter an image would have: this machine's
// root PATH starts with a pyenv shim that costs ~0.2 s per python start).
// Each wrapper logs a START and an END line stamped from /proc/uptime (10 ms resolution, no extra
// process) around the real program (~1 ms of `sh`). frr-reload.py's own vtysh calls go through
// the wrapper too (--bindir is derived from frr.vtysh); they are told apart by the parent PID.
// With --frr image the sidecar runs in the image's container: the wrappers' directory is mounted
// there at the same path, and they call the image's programs (`programs`), whose paths the bench
// reads from the image; the PIDs they log are then the container's.

import { chmodSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export type CallKind =
  | "vtysh-delta"
  | "vtysh-show"
  | "bgp-summary"
  | "reload-test"
  | "reload-apply"
  | "ip-list"
  | "ip-batch"
  | "ip-other";

export interface CallStat {
  readonly count: number;
  /** Summed / longest wall time of the processes (ms, 10 ms resolution). */
  readonly totalMs: number;
  readonly maxMs: number;
}

export interface CallCounts {
  /** vtysh processes the sidecar started itself (deltas, show running-config, show daemons …). */
  readonly vtysh: number;
  /** … of which `vtysh -f` (a config delta). */
  readonly vtyshDelta: number;
  /** … of which `show bgp summary json` (the session-metrics poll and the drain's wait). */
  readonly bgpSummary: number;
  /** frr-reload.py runs (--test and --reload). */
  readonly reload: number;
  readonly reloadApply: number;
  /** vtysh processes started by frr-reload.py. */
  readonly reloadVtysh: number;
  /** ip processes (address list, batches). */
  readonly ip: number;
  readonly ipList: number;
  readonly ipBatch: number;
  /** Wall time per kind of call started by the sidecar. */
  readonly time: Partial<Record<CallKind, CallStat>>;
}

/** Absolute paths of what the wrappers run. */
export interface RealPrograms {
  readonly vtysh: string;
  readonly ip: string;
  /** The interpreter `python3` resolves to in the wrappers' directory (and frr-reload.py's). */
  readonly python3: string;
  readonly reloadScript: string;
}

function hostPrograms(): RealPrograms {
  return {
    vtysh: which("vtysh"),
    ip: which("ip"),
    python3: "/usr/bin/python3",
    reloadScript: "/usr/lib/frr/frr-reload.py",
  };
}

interface Call {
  readonly kind: CallKind | "reload-vtysh";
  readonly direct: boolean;
  readonly start: number;
  end: number | undefined;
}

export class CallCounter {
  readonly log: string;
  readonly vtysh: string;
  readonly reloadScript: string;

  constructor(
    readonly binDir: string,
    /** The real programs the wrappers run (default: the host's). */
    programs: RealPrograms = hostPrograms(),
  ) {
    this.log = join(binDir, "calls.log");
    this.vtysh = join(binDir, "vtysh");
    this.reloadScript = join(binDir, "frr-reload.py");
    writeFileSync(this.log, "");
    const shell = (name: string, real: string): void => {
      const script = [
        "#!/bin/sh",
        `read up _ < /proc/uptime; echo "START $up ${name} $PPID $$ $*" >> ${this.log}`,
        `${real} "$@"; rc=$?`,
        `read up _ < /proc/uptime; echo "END $up ${name} $PPID $$ $rc" >> ${this.log}`,
        "exit $rc",
        "",
      ].join("\n");
      writeFileSync(join(binDir, name), script);
      chmodSync(join(binDir, name), 0o755);
    };
    shell("vtysh", programs.vtysh);
    shell("ip", programs.ip);
    writeFileSync(
      this.reloadScript,
      [
        `#!${programs.python3}`,
        "import os, subprocess, sys",
        "def up():",
        "    with open('/proc/uptime') as f: return f.read().split()[0]",
        "def log(line):",
        `    with open(${JSON.stringify(this.log)}, "a") as f: f.write(line + "\\n")`,
        `log("START %s reload %d %d %s" % (up(), os.getppid(), os.getpid(), " ".join(sys.argv[1:3])))`,
        `rc = subprocess.call([sys.executable, ${JSON.stringify(programs.reloadScript)}] + sys.argv[1:])`,
        `log("END %s reload %d %d %d" % (up(), os.getppid(), os.getpid(), rc))`,
        "sys.exit(rc)",
        "",
      ].join("\n"),
    );
    chmodSync(this.reloadScript, 0o755);
    symlinkSync(programs.python3, join(binDir, "python3"));
  }

  /** Lines logged so far; slice them for a window. */
  lines(): string[] {
    return readFileSync(this.log, "utf8").split("\n").filter(Boolean);
  }

  count(sidecarPid: number, lines: readonly string[]): CallCounts {
    const calls = new Map<string, Call>();
    for (const l of lines) {
      const [tag, up, name, ppid, pid, ...args] = l.split(" ");
      const at = Number(up) * 1000;
      if (tag === "START" && name !== undefined && pid !== undefined) {
        const direct = Number(ppid) === sidecarPid || name === "reload";
        calls.set(pid, { kind: classify(name, args, direct), direct, start: at, end: undefined });
      } else if (tag === "END" && pid !== undefined) {
        const c = calls.get(pid);
        if (c !== undefined) c.end = at;
      }
    }
    const all = [...calls.values()];
    const n = (pred: (c: Call) => boolean): number => all.filter(pred).length;
    const time: Partial<Record<CallKind, CallStat>> = {};
    for (const c of all) {
      if (c.kind === "reload-vtysh") continue;
      const ms = c.end === undefined ? 0 : c.end - c.start;
      const s = time[c.kind] ?? { count: 0, totalMs: 0, maxMs: 0 };
      time[c.kind] = {
        count: s.count + 1,
        totalMs: Math.round(s.totalMs + ms),
        maxMs: Math.max(s.maxMs, Math.round(ms)),
      };
    }
    const isVtysh = (c: Call): boolean =>
      c.kind === "vtysh-delta" || c.kind === "vtysh-show" || c.kind === "bgp-summary";
    return {
      vtysh: n(isVtysh),
      vtyshDelta: n((c) => c.kind === "vtysh-delta"),
      bgpSummary: n((c) => c.kind === "bgp-summary"),
      reload: n((c) => c.kind.startsWith("reload-") && c.kind !== "reload-vtysh"),
      reloadApply: n((c) => c.kind === "reload-apply"),
      reloadVtysh: n((c) => c.kind === "reload-vtysh"),
      ip: n((c) => c.kind.startsWith("ip-")),
      ipList: n((c) => c.kind === "ip-list"),
      ipBatch: n((c) => c.kind === "ip-batch"),
      time,
    };
  }
}

function classify(name: string, args: readonly string[], direct: boolean): CallKind | "reload-vtysh" {
  const text = args.join(" ");
  if (name === "reload") return args.includes("--reload") ? "reload-apply" : "reload-test";
  if (name === "vtysh") {
    if (!direct) return "reload-vtysh";
    if (args.includes("-f")) return "vtysh-delta";
    return text.includes("show bgp summary") ? "bgp-summary" : "vtysh-show";
  }
  if (args.includes("-batch")) return "ip-batch";
  return args.includes("show") ? "ip-list" : "ip-other";
}

function which(bin: string): string {
  return execFileSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).trim();
}
