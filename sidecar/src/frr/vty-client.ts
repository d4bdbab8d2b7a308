// A client for an FRR daemon's vty socket, the protocol vtysh itself speaks: a command plus NUL;
// the reply is its output, three NULs and a status byte (0 = success). One connection, commands
// one batch at a time (its commands pipelined); saves the ≈ 30 ms of a vtysh process per change
// (docs/adr/0002).

import { createConnection, type Socket } from "node:net";
import { SerialQueue } from "../serial-queue.js";

export class VtyCommandError extends Error {
  override name = "VtyCommandError";
  constructor(
    readonly path: string,
    readonly command: string,
    readonly status: number | undefined,
    readonly output: string,
  ) {
    const why = status === undefined ? output : `status ${status}: ${output.trim()}`;
    super(`vty ${path}: '${command}' failed (${why})`);
  }
}

/** Commands in flight at once in configure(): bounded so one chunk's replies stay small. */
const PIPELINE_CHUNK = 500;

export interface Reply {
  readonly text: string;
  readonly status: number;
}

/** The reply's text, or VtyCommandError when the daemon answered with a non-zero status. */
function checked(path: string, cmd: string, reply: Reply | undefined): string {
  if (reply === undefined) throw new VtyCommandError(path, cmd, undefined, "no reply");
  if (reply.status !== 0) throw new VtyCommandError(path, cmd, reply.status, reply.text);
  return reply.text;
}

/** Splits the byte stream of a vty connection into replies; chunks may split anywhere. */
export class ReplyParser {
  private pending: Buffer[] = [];
  /** The first bytes of a terminator (fewer than 4) wait here for the next chunk. */
  private carry: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Reply[] {
    // A reply is its text (never a NUL) then NUL NUL NUL and a status byte.
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    this.carry = Buffer.alloc(0);
    const out: Reply[] = [];
    let start = 0;
    while (start < data.length) {
      const nul = data.indexOf(0, start);
      if (nul < 0) {
        this.pending.push(data.subarray(start));
        break;
      }
      this.pending.push(data.subarray(start, nul));
      if (nul + 3 >= data.length) {
        this.carry = data.subarray(nul);
        break;
      }
      out.push({ text: Buffer.concat(this.pending).toString("utf8"), status: data[nul + 3] ?? 0 });
      this.pending = [];
      start = nul + 4;
    }
    return out;
  }
}

export class VtyClient {
  private sock: Socket | undefined;
  /** The connection is in enable mode (a new vtysh connection starts in view mode). */
  private enabled = false;
  /** Commands in order, one batch at a time. */
  private readonly queue = new SerialQueue();

  constructor(
    readonly path: string,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Runs one command; rejects with VtyCommandError on a non-zero status. */
  command(cmd: string): Promise<string> {
    return this.serial(async () => {
      const [reply] = await this.pipeline([cmd]);
      return checked(this.path, cmd, reply);
    });
  }

  /** Runs one command that needs enable mode (`write terminal`: the daemon's running config). */
  privileged(cmd: string): Promise<string> {
    return this.serial(async () => {
      await this.enable();
      const [reply] = await this.pipeline([cmd]);
      return checked(this.path, cmd, reply);
    });
  }

  /**
   * Runs config lines in one `configure terminal` session, pipelined in chunks (one round trip
   * per chunk, not per line: 10k lines take ~0.2 s instead of seconds). The first line the
   * daemon rejects fails the batch and drops the connection, which leaves config mode and
   * releases FRR's config lock. Lines of that chunk after it may have been applied: the caller
   * repairs a failed batch with a full reload (as after a half-applied `vtysh -f`).
   * `stepwise`: one line per round trip, so nothing after a rejected line runs — for a short
   * batch whose later lines mean something else at the node a rejected line leaves them in.
   * `timeoutMs`: a shorter bound per round trip than the client's.
   */
  configure(
    lines: readonly string[],
    opts: { readonly stepwise?: boolean; readonly timeoutMs?: number } = {},
  ): Promise<void> {
    const size = opts.stepwise === true ? 1 : PIPELINE_CHUNK;
    return this.serial(async () => {
      try {
        await this.enable(opts.timeoutMs);
        const all = ["configure terminal", ...lines, "end"];
        for (let i = 0; i < all.length; i += size) {
          const chunk = all.slice(i, i + size);
          const replies = await this.pipeline(chunk, opts.timeoutMs);
          chunk.forEach((cmd, j) => checked(this.path, cmd, replies[j]));
        }
      } catch (err) {
        this.close();
        throw err;
      }
    });
  }

  /**
   * Closes the connection once the batch in flight (if any) is done: a restarted daemon needs a
   * new connection, but a batch must never be cut in half by the caller.
   */
  closeWhenIdle(): Promise<void> {
    return this.serial(() => {
      this.close();
      return Promise.resolve();
    });
  }

  close(): void {
    this.sock?.destroy();
    this.sock = undefined;
    this.enabled = false;
  }

  private async enable(timeoutMs?: number): Promise<void> {
    if (this.enabled) return;
    const [reply] = await this.pipeline(["enable"], timeoutMs);
    checked(this.path, "enable", reply);
    this.enabled = true;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    return this.queue.run(work);
  }

  private async connect(): Promise<Socket> {
    if (this.sock !== undefined && !this.sock.destroyed) return this.sock;
    this.enabled = false;
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection({ path: this.path });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new VtyCommandError(this.path, "connect", undefined, "timed out"));
      }, this.timeoutMs);
      s.once("connect", () => {
        clearTimeout(timer);
        s.removeAllListeners("error");
        resolve(s);
      });
      s.once("error", (err) => {
        clearTimeout(timer);
        reject(new VtyCommandError(this.path, "connect", undefined, err.message));
      });
    });
    sock.on("error", () => sock.destroy());
    sock.on("close", () => {
      if (this.sock === sock) this.close();
    });
    // An idle connection must not keep the process alive (it is re-opened on demand).
    sock.unref();
    this.sock = sock;
    return sock;
  }

  /** Sends the commands back to back and collects one reply per command, in order. */
  private async pipeline(cmds: readonly string[], timeoutMs = this.timeoutMs): Promise<Reply[]> {
    for (const cmd of cmds)
      if (cmd.includes("\0") || cmd.includes("\n"))
        throw new VtyCommandError(this.path, cmd, undefined, "bad command");
    const sock = await this.connect();
    sock.ref();
    try {
      return await new Promise<Reply[]>((resolve, reject) => {
        const replies: Reply[] = [];
        const finish = (err: Error | undefined): void => {
          clearTimeout(timer);
          sock.off("data", onData);
          sock.off("close", onClose);
          if (err === undefined) resolve(replies);
          else reject(err);
        };
        const parser = new ReplyParser();
        const onData = (chunk: Buffer): void => {
          replies.push(...parser.push(chunk));
          if (replies.length >= cmds.length) finish(undefined);
        };
        const onClose = (): void => {
          finish(new VtyCommandError(this.path, cmds[replies.length] ?? "", undefined, "connection closed"));
        };
        const timer = setTimeout(() => {
          sock.destroy();
          const cmd = cmds[replies.length] ?? "";
          finish(new VtyCommandError(this.path, cmd, undefined, `no answer in ${timeoutMs} ms`));
        }, timeoutMs);
        sock.on("data", onData);
        sock.once("close", onClose);
        sock.write(cmds.map((c) => `${c}\0`).join(""));
      });
    } finally {
      if (!sock.destroyed) sock.unref();
    }
  }
}
