// A minimal client for an FRR daemon's vty socket (the protocol vtysh speaks): the command plus
// NUL; the reply ends with three NULs and a status byte. ~0.1 ms per query instead of ~30 ms for a
// vtysh process, so the benchmark can poll the tor without loading it (or itself) much.
// Same protocol as the private client in tests/lab/netns-lab.ts.

import * as net from "node:net";

export class VtyClient {
  private sock: net.Socket | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly path: string) {}

  command(cmd: string, timeoutMs = 10_000): Promise<string> {
    const run = this.queue.then(() => this.exchange(cmd, timeoutMs));
    this.queue = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.sock?.destroy();
    this.sock = null;
  }

  private async connect(): Promise<net.Socket> {
    if (this.sock !== null && !this.sock.destroyed) return this.sock;
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.createConnection({ path: this.path });
      s.once("connect", () => {
        s.removeListener("error", reject);
        resolve(s);
      });
      s.once("error", reject);
    });
    sock.on("error", () => sock.destroy());
    sock.on("close", () => {
      if (this.sock === sock) this.sock = null;
    });
    this.sock = sock;
    return sock;
  }

  private async exchange(cmd: string, timeoutMs: number): Promise<string> {
    const sock = await this.connect();
    sock.ref();
    try {
      return await new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let len = 0;
        const done = (err: Error | null, out?: string): void => {
          clearTimeout(timer);
          sock.removeListener("data", onData);
          sock.removeListener("close", onClose);
          if (err !== null) {
            sock.destroy();
            reject(err);
          } else resolve(out ?? "");
        };
        const onData = (b: Buffer): void => {
          chunks.push(b);
          len += b.length;
          const all = chunks.length === 1 ? b : Buffer.concat(chunks, len);
          if (chunks.length > 1) chunks.splice(0, chunks.length, all);
          const n = all.length;
          if (n >= 4 && all[n - 4] === 0 && all[n - 3] === 0 && all[n - 2] === 0) {
            const status = all[n - 1] ?? 0;
            const text = all.subarray(0, n - 4).toString("utf8");
            if (status === 0) done(null, text);
            else done(new Error(`vty ${this.path}: '${cmd}' failed (status ${status}): ${text.trim()}`));
          }
        };
        const onClose = (): void => {
          done(new Error(`vty ${this.path}: connection closed during '${cmd}'`));
        };
        const timer = setTimeout(() => {
          done(new Error(`vty ${this.path}: '${cmd}' timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        sock.on("data", onData);
        sock.once("close", onClose);
        sock.write(Buffer.from(`${cmd}\0`, "utf8"));
      });
    } finally {
      if (!sock.destroyed) sock.unref();
    }
  }
}
