// A client for an FRR daemon's vty socket, the protocol vtysh itself speaks: a command plus NUL;
// the reply is its output, three NULs and a status byte (0 = success). One connection, commands
// strictly one at a time; saves the ≈ 30 ms of a vtysh process per change (docs/adr/0002).

import { createConnection, type Socket } from "node:net";

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

export class VtyClient {
  private sock: Socket | undefined;
  /** The connection is in enable mode (a new vtysh connection starts in view mode). */
  private enabled = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Runs one command; rejects with VtyCommandError on a non-zero status. */
  command(cmd: string): Promise<string> {
    return this.serial(() => this.exchange(cmd));
  }

  /**
   * Runs config lines in one `configure terminal` session: stops at the first line the daemon
   * rejects and drops the connection (which leaves config mode and releases FRR's config lock).
   */
  configure(lines: readonly string[]): Promise<void> {
    return this.serial(async () => {
      try {
        if (!this.enabled) {
          await this.exchange("enable");
          this.enabled = true;
        }
        await this.exchange("configure terminal");
        for (const line of lines) await this.exchange(line);
        await this.exchange("end");
      } catch (err) {
        this.close();
        throw err;
      }
    });
  }

  close(): void {
    this.sock?.destroy();
    this.sock = undefined;
    this.enabled = false;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
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

  private async exchange(cmd: string): Promise<string> {
    if (cmd.includes("\0") || cmd.includes("\n"))
      throw new VtyCommandError(this.path, cmd, undefined, "bad command");
    const sock = await this.connect();
    sock.ref();
    try {
      return await new Promise<string>((resolve, reject) => {
        let buf: Buffer = Buffer.alloc(0);
        const finish = (err: Error | undefined, out = ""): void => {
          clearTimeout(timer);
          sock.off("data", onData);
          sock.off("close", onClose);
          if (err === undefined) resolve(out);
          else reject(err);
        };
        const onData = (chunk: Buffer): void => {
          buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
          const n = buf.length;
          if (n < 4 || buf[n - 4] !== 0 || buf[n - 3] !== 0 || buf[n - 2] !== 0) return;
          const status = buf[n - 1] ?? 0;
          const text = buf.subarray(0, n - 4).toString("utf8");
          if (status === 0) finish(undefined, text);
          else finish(new VtyCommandError(this.path, cmd, status, text));
        };
        const onClose = (): void => {
          finish(new VtyCommandError(this.path, cmd, undefined, "connection closed"));
        };
        const timer = setTimeout(() => {
          sock.destroy();
          finish(new VtyCommandError(this.path, cmd, undefined, `no answer in ${this.timeoutMs} ms`));
        }, this.timeoutMs);
        sock.on("data", onData);
        sock.once("close", onClose);
        sock.write(`${cmd}\0`);
      });
    } finally {
      if (!sock.destroyed) sock.unref();
    }
  }
}
