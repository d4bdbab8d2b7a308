// `--frr image`: the benchmark runs the node's FRR and the sidecar from the product's image
// (tests/lab/image-frr.ts, FA_LAB_FRR=image). What the bench needs beyond the e2e harness:
//  - the image's identity and FRR release for the JSON's meta;
//  - the sidecar container's processes: tini (PID 1 of the container, where signals go, as the
//    kubelet sends them) and its child node (the sidecar: /proc sampling, and its PID inside the
//    container's namespace, which is the $PPID the call-counting wrappers log);
//  - a long-lived shell in the image inside a namespace, so the baselines run the image's vtysh and
//    frr-reload.py as processes of their own without a `podman run` (≈ 0.4 s) around each one.
//
// Nothing here reads FA_LAB_FRR: callers pass the image (LAB_FRR_IMAGE) when there is one.

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { inImage, PODMAN_ENV } from "../../tests/lab/image-frr.js";

const podman = async (args: readonly string[]): Promise<string> =>
  (await execa("podman", args, { env: PODMAN_ENV, stdin: "ignore" })).stdout.trim();

export interface ImageInfo {
  /** The image reference, e.g. localhost/frr-advertiser:dev. */
  readonly ref: string;
  /** Its image ID (sha256 hex). */
  readonly id: string;
  /** FRR release its vtysh reports (`vtysh --help`: "… (version 10.3)"). */
  readonly frr: string;
  /** Its labels (org.opencontainers.image.revision, .created, …). */
  readonly labels: Readonly<Record<string, string>>;
  /** Its PATH (Config.Env), which the wrappers' directory is put in front of. */
  readonly path: string;
  /** Where the programs the sidecar runs are inside it (the wrappers call these). */
  readonly programs: { readonly vtysh: string; readonly ip: string; readonly python3: string };
  readonly reloadScript: string;
}

/** Reads the image's identity, FRR release and program paths (a few `podman run --rm`). */
export async function imageInfo(ref: string): Promise<ImageInfo> {
  // `podman image inspect` prints a JSON array, one entry per image asked for.
  const [inspect] = JSON.parse(await podman(["image", "inspect", ref])) as {
    Id: string;
    Config?: { Env?: string[]; Labels?: Record<string, string> };
  }[];
  if (inspect === undefined) throw new Error(`podman image inspect ${ref}: no image`);
  const run = (entrypoint: string, ...args: string[]): Promise<string> =>
    podman(["run", "--rm", "--pull", "never", "--entrypoint", entrypoint, ref, ...args]);
  // FRR 10.3's vtysh has no --version; its --help names the release.
  const help = await run("vtysh", "--help");
  const frr = /\(version ([^)]+)\)/.exec(help)?.[1];
  if (frr === undefined) throw new Error(`${ref}: vtysh --help names no version:\n${help}`);
  const reloadScript = "/usr/lib/frr/frr-reload.py";
  // The image's PATH resolves these as the sidecar would; the check fails the run early if one is
  // missing (the wrappers would then fail every call).
  const found = (
    await run(
      "sh",
      "-c",
      `for p in vtysh ip python3; do command -v $p || echo "no $p"; done; test -f ${reloadScript} && echo ok`,
    )
  ).split("\n");
  const [vtysh, ip, python3, ok] = found;
  const abs = (p: string | undefined): p is string => p?.startsWith("/") === true;
  if (!abs(vtysh) || !abs(ip) || !abs(python3) || ok !== "ok")
    throw new Error(`${ref}: vtysh, ip, python3 or ${reloadScript} missing: ${found.join(" ")}`);
  const path = (inspect.Config?.Env ?? []).find((e) => e.startsWith("PATH="))?.slice(5);
  return {
    ref,
    id: inspect.Id,
    frr,
    labels: inspect.Config?.Labels ?? {},
    path: path ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    programs: { vtysh, ip, python3 },
    reloadScript,
  };
}

export interface ContainerProcess {
  /** Host PID of the container's PID 1 (tini). */
  readonly initPid: number;
  /** Host PID of tini's child, the node process (the sidecar). */
  readonly hostPid: number;
  /** The node process's PID inside the container's PID namespace. */
  readonly nsPid: number;
  /** When the container's process started (podman's State.StartedAt), wall-clock ms. */
  readonly startedAt: number;
}

/** The running container's tini and node processes (waits up to timeoutMs for node to exist). */
export async function containerProcess(name: string, timeoutMs = 30_000): Promise<ContainerProcess> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await execa(
      "podman",
      ["inspect", "--type", "container", "--format", "{{.State.Pid}} {{.State.StartedAt.UnixNano}}", name],
      { env: PODMAN_ENV, reject: false, stdin: "ignore" },
    );
    const [pid = "0", startedNs = "0"] = r.stdout.trim().split(" ");
    const initPid = Number(pid);
    if (r.exitCode === 0 && initPid > 0) {
      const child = readChildren(initPid)[0];
      if (child !== undefined) {
        return {
          initPid,
          hostPid: child,
          nsPid: nsPid(child),
          // UnixNano exceeds 2^53: ms precision is all we need and all a double keeps.
          startedAt: Number(BigInt(startedNs) / 1_000_000n) + Number(BigInt(startedNs) % 1_000_000n) / 1e6,
        };
      }
    }
    if (Date.now() > deadline) throw new Error(`container ${name}: no node process after ${timeoutMs} ms`);
    await sleep(20);
  }
}

function readChildren(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The innermost PID of a process (`NSpid:` lists it per PID namespace, the host's first). */
function nsPid(pid: number): number {
  const line = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  const last = line?.trim().split(/\s+/).at(-1);
  if (last === undefined) throw new Error(`/proc/${pid}/status has no NSpid`);
  return Number(last);
}

/** Resolves when host PID `pid` has exited (gone, or a zombie not reaped yet), polled every 5 ms. */
export async function waitGone(pid: number): Promise<void> {
  for (;;) {
    let state: string | undefined;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    } catch {
      return;
    }
    if (state === "Z" || state === "X") return;
    await sleep(5);
  }
}

/** podman's exit code for a container whose process was killed: 128 + the signal, as a shell. */
export function signalOfExitCode(code: number | null): string | null {
  if (code === null || code <= 128) return null;
  const entry = Object.entries(constants.signals).find(([, n]) => n === code - 128);
  return entry?.[0] ?? `signal ${code - 128}`;
}

/** Single-quotes a word for sh. */
const quote = (w: string): string => `'${w.replaceAll("'", `'\\''`)}'`;

/**
 * One `sh` in the image inside namespace `ns` (the lab's mounts, host PID namespace, as the lab's
 * own image commands), reading command lines on stdin and running each as its own process (what a
 * script or an operator runs next to FRR). Output of a command goes to a file; the bench gets its
 * exit code back over stdout. The round trip through the pipe is well under a millisecond.
 */
export class ImageShell {
  private readonly child: ChildProcess;
  private buf = "";
  private waiting: ((line: string) => void) | undefined;
  private readonly out: string;
  private closed = false;

  constructor(
    image: string,
    ns: string,
    /** A file under /tmp (mounted) that takes each command's output, overwritten per command. */
    outFile: string,
  ) {
    this.out = outFile;
    const loop = `while IFS= read -r line; do eval "$line" >${quote(outFile)} 2>&1; echo "EXIT $?"; done`;
    const argv = inImage(image, ns, "sh", ["-c", loop]);
    // inImage's argv is `podman run --rm …`: the shell reads its commands on stdin.
    argv.splice(2, 0, "--interactive");
    const [file = "podman", ...args] = argv;
    this.child = spawn(file, args, { env: PODMAN_ENV, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout?.on("data", (d: Buffer) => {
      this.buf += d.toString();
      let i;
      while ((i = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiting;
        this.waiting = undefined;
        w?.(line);
      }
    });
    let stderr = "";
    this.child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    this.child.once("exit", (code) => {
      this.closed = true;
      const w = this.waiting;
      this.waiting = undefined;
      w?.(`CLOSED ${code} ${stderr.trim()}`);
    });
  }

  /** Runs argv in the container; resolves with its exit code (throws unless 0 when reject). */
  async run(argv: readonly string[], opts: { reject?: boolean } = {}): Promise<number> {
    if (this.closed) throw new Error("the image shell has exited");
    if (this.waiting !== undefined) throw new Error("one command at a time");
    const line = await new Promise<string>((resolve) => {
      this.waiting = resolve;
      this.child.stdin?.write(`${argv.map(quote).join(" ")}\n`);
    });
    const m = /^EXIT (\d+)$/.exec(line);
    const code = m?.[1] === undefined ? -1 : Number(m[1]);
    if (code !== 0 && opts.reject !== false) {
      let output = "";
      try {
        output = readFileSync(this.out, "utf8").slice(-4000);
      } catch {
        /* no output file */
      }
      throw new Error(`in the image (${line}): ${argv.join(" ")}\n${output}`);
    }
    return code;
  }

  /** Waits until the shell answers (the container is up). */
  async ready(): Promise<void> {
    await this.run(["true"]);
  }

  /** Ends the shell (EOF), and with it the container (--rm); SIGKILL after 10 s. */
  async close(): Promise<void> {
    if (this.closed) return;
    const exited = new Promise<void>((resolve) => {
      this.child.once("exit", () => {
        resolve();
      });
    });
    const timer = setTimeout(() => {
      if (!this.closed) this.child.kill("SIGKILL");
    }, 10_000);
    this.child.stdin?.end();
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The program and arguments of an argv from the lab (tests/lab/netns-lab.ts: vtyshArgs,
 * frrReloadArgs) as they run inside the image: `podman run … --entrypoint PROG IMAGE ARGS…` →
 * [PROG, …ARGS]. Throws for an argv of another shape.
 */
export function insideImage(argv: readonly string[], image: string): string[] {
  const e = argv.indexOf("--entrypoint");
  const program = argv[e + 1];
  if (argv[0] !== "podman" || e < 0 || program === undefined || argv[e + 2] !== image)
    throw new Error(`not an image argv: ${argv.join(" ")}`);
  return [program, ...argv.slice(e + 3)];
}

/** Runs node-side programs one after another, each its own process: see nodeProgramRunner. */
export interface NodeProgramRunner {
  ready(): Promise<void>;
  /** Runs argv (the host's form, or the lab's image argv in image mode); throws on failure. */
  run(argv: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The baselines' way to run the node's vtysh / frr-reload.py: on the host, a process each; with an
 * image, a process each inside one long-lived ImageShell in the node's namespace (`argv` is then
 * the lab's `podman run … --entrypoint PROGRAM IMAGE …` form, see insideImage).
 */
export function nodeProgramRunner(
  image: string | undefined,
  nodeNs: string,
  outFile: string,
): NodeProgramRunner {
  if (image === undefined) {
    return {
      ready: () => Promise.resolve(),
      run: async (argv) => {
        await execa(argv[0] ?? "", argv.slice(1));
      },
      close: () => Promise.resolve(),
    };
  }
  const shell = new ImageShell(image, nodeNs, outFile);
  return {
    ready: () => shell.ready(),
    run: async (argv) => {
      await shell.run(insideImage(argv, image));
    },
    close: () => shell.close(),
  };
}
