// One long-lived `ip -force -batch -` fed through its stdin: an address change is a line written
// to a pipe instead of an ip(8) process started and reaped per change. Owns the line protocol:
// where a batch ends, which of its lines ip rejected, and what happens when ip dies or hangs.

import type { Coprocess, RunResult } from "../exec.js";
import { SerialQueue } from "../serial-queue.js";

/**
 * Ends every batch. ip reads it as an object name it does not know, prints `Object "…" is
 * unknown` and `Command failed -:N` on stderr (unbuffered) and, with -force, reads on: N says
 * the lines before it are done. No kernel call, and no object's name starts with these letters
 * (ip matches objects by prefix).
 */
export const BATCH_END = "frr-advertiser-batch-end";

const COMMAND_FAILED = /^Command failed -:(\d+)$/;

export interface IpBatchSessionOptions {
  /** Starts `ip [-n NS] -force -batch -` (exec.ts spawnCoprocess; tests inject a fake). */
  readonly spawn: (onStderrLine: (line: string) => void) => Coprocess;
  /** A batch not done by then: ip is killed, the batch fails as a whole (the caller re-lists). */
  readonly timeoutMs: number;
  /** An ip process ended other than by close() (it died, or was killed on a timeout). */
  readonly onEnded?: (why: string) => void;
}

interface Pending {
  /** The process it was written to: only its end fails this batch. */
  readonly ip: Coprocess;
  /** Lines written before this batch: ip numbers the batch's lines from first + 1. */
  readonly first: number;
  readonly marker: number;
  readonly lines: string[];
  failed: boolean;
  readonly resolve: (r: RunResult) => void;
}

/**
 * `run(input)` answers as `ip -force -batch -` run on `input` alone would: exit code 0 when ip
 * accepted every line, else 1, and its stderr with `Command failed -:N` counted from the batch's
 * first line. When ip ends or hangs before the batch's end, nothing of its stderr names a line:
 * the caller must take every line of it as failed and look at the interface.
 */
export class IpBatchSession {
  readonly #opts: IpBatchSessionOptions;
  readonly #queue = new SerialQueue();
  #ip: Coprocess | undefined;
  /** Lines this ip process was sent. */
  #written = 0;
  #pending: Pending | undefined;
  /** Processes close() ended: their end is expected (weakly held: nothing keeps one alive). */
  readonly #closed = new WeakSet<Coprocess>();

  constructor(options: IpBatchSessionOptions) {
    this.#opts = options;
  }

  run(input: string): Promise<RunResult> {
    return this.#queue.run(() => this.#run(input));
  }

  /** Ends the ip process once the batches queued so far are done (shutdown, tests); a later run() starts another. */
  close(): Promise<void> {
    return this.#queue.run(async () => {
      const ip = this.#ip;
      this.#ip = undefined;
      if (ip === undefined) return;
      this.#closed.add(ip);
      ip.end();
      await ip.ended;
    });
  }

  #run(input: string): Promise<RunResult> {
    const text = input.endsWith("\n") || input === "" ? input : `${input}\n`;
    const count = newlines(text);
    const ip = this.#ensure();
    const first = this.#written;
    const marker = first + count + 1;
    this.#written = marker;
    return new Promise<RunResult>((resolve) => {
      const timer = setTimeout(() => {
        if (this.#ip === ip) this.#ip = undefined; // the next batch starts a new one
        this.#abort(ip, `no answer from ip within ${String(this.#opts.timeoutMs)} ms; killed`);
        ip.kill();
      }, this.#opts.timeoutMs);
      this.#pending = {
        ip,
        first,
        marker,
        lines: [],
        failed: false,
        resolve: (r) => {
          clearTimeout(timer);
          this.#pending = undefined;
          resolve(r);
        },
      };
      ip.write(`${text}${BATCH_END}\n`);
    });
  }

  #ensure(): Coprocess {
    if (this.#ip !== undefined) return this.#ip;
    this.#written = 0;
    // Lines arrive asynchronously, once spawn() has returned (`ip` is set by then). A process
    // that was replaced (killed on a timeout) may still print; its lines are not the new batch's.
    const ip: Coprocess = this.#opts.spawn((line) => {
      this.#onStderr(ip, line);
    });
    this.#ip = ip;
    void ip.ended.then((why) => {
      if (this.#ip === ip) this.#ip = undefined;
      this.#abort(ip, `ip -batch ended (${why})`);
      if (!this.#closed.has(ip)) this.#opts.onEnded?.(why);
    });
    return ip;
  }

  #onStderr(ip: Coprocess, line: string): void {
    const p = this.#pending;
    if (p?.ip !== ip) return; // nothing asked of this process: not ours to read
    const failed = COMMAND_FAILED.exec(line.trim());
    if (failed === null) {
      p.lines.push(line);
      return;
    }
    const n = Number(failed[1]);
    if (n === p.marker) {
      p.lines.pop(); // the marker's own `Object "…" is unknown`
      p.resolve({ stdout: "", stderr: p.lines.join("\n"), exitCode: p.failed ? 1 : 0 });
      return;
    }
    p.failed = true;
    p.lines.push(`Command failed -:${String(n - p.first)}`);
  }

  /** The batch in flight fails as a whole: no line numbers, so every line counts as rejected. */
  #abort(ip: Coprocess, why: string): void {
    const p = this.#pending;
    if (p?.ip !== ip) return;
    p.resolve({ stdout: "", stderr: why, exitCode: 1 });
  }
}

/** How many lines `text` holds (its newlines), without an array of them (a batch has up to 5k). */
function newlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
  return n;
}
