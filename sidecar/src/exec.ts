// The process-runner port: every external command (vtysh, frr-reload.py, ip) goes through one
// injected function, so tests can fake it and the real one always has a timeout. The one
// long-lived process (a monitor that reports lines) starts here too: execa is used nowhere else.

import { createInterface } from "node:readline";
import { execa } from "execa";

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

export interface RunOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
}

export type Runner = (argv: readonly string[], options?: RunOptions) => Promise<RunResult>;

/**
 * Runs argv[0] with the rest as arguments (no shell); never rejects on a non-zero exit.
 * The output is gathered here from the pipes' chunks (`buffer: false`): execa's own buffering
 * reads each pipe through an async iterator whose queue and abort plumbing cost ≈ 25 KB of
 * objects per run, which live as long as the process and so outlast young-generation GCs —
 * with an `ip` run per address change that was most of the old-space garbage under churn.
 * execa still spawns, feeds stdin, times out, kills and cleans up.
 */
export function createRunner(defaultTimeoutMs: number): Runner {
  return async (argv, options = {}) => {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error("empty command");
    const child = execa(file, args, {
      reject: false,
      buffer: false,
      timeout: options.timeoutMs ?? defaultTimeoutMs,
      killSignal: "SIGKILL",
      ...(options.input !== undefined ? { input: options.input } : { stdin: "ignore" }),
    });
    const stdout = collect(child.stdout);
    const stderrText = collect(child.stderr);
    const result = await child;
    const exitCode = result.exitCode ?? (result.timedOut ? 124 : 1);
    // No exit code at all means it never ran (ENOENT, EACCES) or was killed: say which.
    const stderr = result.timedOut
      ? `${stderrText()}\n(timed out after ${options.timeoutMs ?? defaultTimeoutMs} ms)`
      : result.exitCode === undefined
        ? (result.message ?? "command did not run")
        : stderrText();
    return { stdout: stdout(), stderr, exitCode };
  };
}

/** Keeps a pipe's chunks; the returned function gives them as text (after the process ended). */
function collect(stream: NodeJS.ReadableStream): () => string {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  return () =>
    chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks).toString("utf8");
}

/** A long-lived process whose stdout is read line by line. */
export interface LineProcess {
  /** Resolves once the process runs (it may still fail right after). */
  readonly spawned: Promise<void>;
  /** Resolves when it ended, with why (exit code or signal, and the end of its stderr). */
  readonly ended: Promise<string>;
  kill(): void;
}

/**
 * Starts argv and hands each stdout line to `onLine`. No timeout: it runs until kill(). Not tied
 * to this process's exit handlers (the sidecar's stop handlers decide when it ends; if the sidecar
 * is killed, the child dies with its pipe).
 */
export function spawnLines(argv: readonly string[], onLine: (line: string) => void): LineProcess {
  const child = startLongLived(argv, "ignore");
  createInterface({ input: child.stdout }).on("line", onLine);
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-500);
  });
  return {
    spawned: new Promise((resolve) =>
      child.once("spawn", () => {
        resolve();
      }),
    ),
    ended: child.then((r) => `${String(r.exitCode ?? r.signal ?? "?")}: ${stderr.trim()}`),
    kill: () => {
      child.kill("SIGTERM");
    },
  };
}

/**
 * A long-lived child whose owner reads its pipes as they come and stops it: nothing buffered, an
 * exit is no error, and execa leaves it alone at our exit (the owner's stop decides).
 */
function startLongLived<S extends "ignore" | "pipe">(argv: readonly string[], stdin: S) {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error("empty command");
  return execa(file, args, {
    buffer: false,
    stdin,
    stdout: "pipe",
    stderr: "pipe",
    reject: false,
    cleanup: false,
  });
}

/** A long-lived process fed through its stdin, whose stderr is read line by line. */
export interface Coprocess {
  readonly pid: number | undefined;
  /** Writes to its stdin (it reads and acts on each line as it arrives). */
  write(text: string): void;
  /** Resolves when it ended, with why (exit code or signal); also when it never started. */
  readonly ended: Promise<string>;
  /** Closes its stdin: a batch reader ends after what it was sent. */
  end(): void;
  kill(): void;
}

/**
 * Starts argv with stdin and stderr as pipes (stdout is read and dropped). No timeout: the caller
 * times each request and kills it. Not tied to this process's exit handlers, like spawnLines.
 */
export function spawnCoprocess(argv: readonly string[], onStderrLine: (line: string) => void): Coprocess {
  const child = startLongLived(argv, "pipe");
  child.stdout.resume();
  createInterface({ input: child.stderr }).on("line", onStderrLine);
  // A write after it died must not throw (EPIPE): `ended` tells the caller what happened.
  child.stdin.on("error", () => undefined);
  return {
    pid: child.pid,
    write: (text) => {
      if (child.stdin.writable) child.stdin.write(text);
    },
    ended: child.then((r) => String(r.exitCode ?? r.signal ?? r.message ?? "?")),
    end: () => {
      child.stdin.end();
    },
    kill: () => {
      child.kill("SIGKILL");
    },
  };
}
