// Counting wrappers for the external programs the sidecar runs. The bench config points
// frr.vtysh and frr.reloadScript at them and puts their directory first on the sidecar's PATH
// (for `ip`); each appends one line to a log and execs the real program (~1 ms of `sh` start).
// frr-reload.py's own vtysh calls go through the wrapper too (--bindir is derived from frr.vtysh);
// they are told apart by the parent PID.

import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export interface CallCounts {
  /** vtysh processes the sidecar started itself (deltas, show running-config, show daemons …). */
  readonly vtysh: number;
  /** frr-reload.py runs (--test and --reload). */
  readonly reload: number;
  /** vtysh processes started by frr-reload.py. */
  readonly reloadVtysh: number;
  /** ip processes (address list, batches). */
  readonly ip: number;
  readonly ipList: number;
  readonly ipBatch: number;
}

export class CallCounter {
  readonly log: string;
  readonly vtysh: string;
  readonly reloadScript: string;

  constructor(readonly binDir: string) {
    this.log = join(binDir, "calls.log");
    this.vtysh = join(binDir, "vtysh");
    this.reloadScript = join(binDir, "frr-reload.py");
    const realVtysh = which("vtysh");
    const realIp = which("ip");
    writeFileSync(this.log, "");
    writeFileSync(this.vtysh, `#!/bin/sh\necho "vtysh $PPID $*" >> ${this.log}\nexec ${realVtysh} "$@"\n`);
    writeFileSync(join(binDir, "ip"), `#!/bin/sh\necho "ip $PPID $*" >> ${this.log}\nexec ${realIp} "$@"\n`);
    writeFileSync(
      this.reloadScript,
      [
        "#!/usr/bin/env python3",
        "import os, sys",
        `with open(${JSON.stringify(this.log)}, "a") as f:`,
        `    f.write("reload %d %s\\n" % (os.getppid(), " ".join(sys.argv[1:3])))`,
        `os.execv(sys.executable, [sys.executable, "/usr/lib/frr/frr-reload.py"] + sys.argv[1:])`,
        "",
      ].join("\n"),
    );
    for (const f of [this.vtysh, this.reloadScript, join(binDir, "ip")]) chmodSync(f, 0o755);
  }

  /** Lines logged so far: pass the result of an earlier call as `since` for a window. */
  lines(): string[] {
    return readFileSync(this.log, "utf8").split("\n").filter(Boolean);
  }

  count(sidecarPid: number, lines: readonly string[]): CallCounts {
    let vtysh = 0;
    let reload = 0;
    let reloadVtysh = 0;
    let ip = 0;
    let ipList = 0;
    let ipBatch = 0;
    for (const l of lines) {
      const [what, ppid, ...args] = l.split(" ");
      const direct = Number(ppid) === sidecarPid;
      if (what === "vtysh") {
        if (direct) vtysh++;
        else reloadVtysh++;
      } else if (what === "reload") reload++;
      else if (what === "ip" && direct) {
        ip++;
        if (args.includes("show")) ipList++;
        if (args.includes("-batch")) ipBatch++;
      }
    }
    return { vtysh, reload, reloadVtysh, ip, ipList, ipBatch };
  }
}

function which(bin: string): string {
  return execFileSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).trim();
}
