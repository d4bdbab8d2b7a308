// The process-runner port: every external command (vtysh, frr-reload.py, ip) goes through one
// injected function, so tests can fake it and the real one always has a timeout.

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

/** Runs argv[0] with the rest as arguments (no shell); never rejects on a non-zero exit. */
export function createRunner(defaultTimeoutMs: number): Runner {
  return async (argv, options = {}) => {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error("empty command");
    const result = await execa(file, args, {
      reject: false,
      timeout: options.timeoutMs ?? defaultTimeoutMs,
      killSignal: "SIGKILL",
      ...(options.input !== undefined ? { input: options.input } : { stdin: "ignore" }),
      stripFinalNewline: false,
    });
    const exitCode = result.exitCode ?? (result.timedOut ? 124 : 1);
    // No exit code at all means it never ran (ENOENT, EACCES) or was killed: say which.
    const stderr = result.timedOut
      ? `${result.stderr}\n(timed out after ${options.timeoutMs ?? defaultTimeoutMs} ms)`
      : result.exitCode === undefined
        ? (result.message ?? "command did not run")
        : result.stderr;
    return { stdout: result.stdout, stderr, exitCode };
  };
}
