import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Coprocess } from "../exec.js";
import { batchLines, rejectedLines } from "./ip-addresses.js";
import { BATCH_END, IpBatchSession } from "./ip-batch-session.js";

/**
 * Plays `ip -force -batch -` on its stdin: numbers the lines it reads, answers a line it is told
 * to reject and the marker (an unknown object) on stderr, as ip does; can hang or die.
 */
class FakeIp implements Coprocess {
  readonly pid = undefined;
  readonly received: string[] = [];
  reject = new Set<string>();
  hang = false;
  killed = false;
  #n = 0;
  #end: (why: string) => void = () => undefined;
  readonly ended = new Promise<string>((resolve) => {
    this.#end = resolve;
  });

  constructor(private readonly stderr: (line: string) => void) {}

  write(text: string): void {
    const lines = text.split("\n").slice(0, -1);
    setImmediate(() => {
      for (const line of lines) {
        if (this.hang || this.killed) return;
        this.#n++;
        this.received.push(line);
        if (line === BATCH_END) {
          this.stderr(`Object "${BATCH_END}" is unknown, try "ip help".`);
          this.stderr(`Command failed -:${String(this.#n)}`);
        } else if (this.reject.has(line)) {
          this.stderr("Error: ipv4: Address already assigned.");
          this.stderr(`Command failed -:${String(this.#n)}`);
        }
      }
    });
  }

  /** Prints a line as the process would, whatever it was sent. */
  print(line: string): void {
    this.stderr(line);
  }

  die(why: string): void {
    this.#end(why);
  }

  end(): void {
    this.#end("0");
  }

  kill(): void {
    this.killed = true;
    this.#end("SIGKILL");
  }
}

function session(timeoutMs = 1000) {
  const spawned: FakeIp[] = [];
  const ended: string[] = [];
  const s = new IpBatchSession({
    spawn: (onLine) => {
      const ip = new FakeIp(onLine);
      spawned.push(ip);
      return ip;
    },
    timeoutMs,
    onEnded: (why) => ended.push(why),
  });
  return { s, spawned, ended };
}

const ADD_1 = "address add 10.0.0.1/32 dev lo";
const ADD_2 = "address add 10.0.0.2/32 dev lo";
const ADD_3 = "address add 10.0.0.3/32 dev lo";

void describe("IpBatchSession", () => {
  void test("one ip for every batch; each batch's rejected lines are counted from its own first line", async () => {
    const { s, spawned } = session();
    const ok = await s.run(`${ADD_1}\n${ADD_2}\n`);
    assert.deepEqual(ok, { stdout: "", stderr: "", exitCode: 0 });
    spawned[0]!.reject.add(ADD_3);
    const second = await s.run(`${ADD_2}\n${ADD_3}\n`);
    assert.equal(second.exitCode, 1);
    assert.equal(second.stderr, "Error: ipv4: Address already assigned.\nCommand failed -:2");
    // What the adapter makes of it: the second line of this batch, not of the process.
    const chunk = batchLines({ add: ["10.0.0.2", "10.0.0.3"], remove: [] }, "lo");
    assert.deepEqual(
      rejectedLines(chunk, second.stderr).map((r) => r.address),
      ["10.0.0.3"],
    );
    assert.equal(spawned.length, 1);
    assert.deepEqual(spawned[0]!.received, [ADD_1, ADD_2, BATCH_END, ADD_2, ADD_3, BATCH_END]);
  });

  void test("overlapping runs are written one batch at a time", async () => {
    const { s, spawned } = session();
    const [a, b] = await Promise.all([s.run(`${ADD_1}\n`), s.run(`${ADD_2}\n`)]);
    assert.equal(a.exitCode + b.exitCode, 0);
    assert.deepEqual(spawned[0]!.received, [ADD_1, BATCH_END, ADD_2, BATCH_END]);
  });

  void test("ip ending mid-batch fails the batch as a whole; the next batch starts a new ip", async () => {
    const { s, spawned, ended } = session();
    await s.run(`${ADD_1}\n`);
    spawned[0]!.hang = true;
    const running = s.run(`${ADD_2}\n${ADD_3}\n`);
    await new Promise((r) => setImmediate(r));
    spawned[0]!.reject.add(ADD_2);
    spawned[0]!.print("Command failed -:3"); // one line named, then it dies: not trusted
    spawned[0]!.die("1");
    const failed = await running;
    assert.equal(failed.exitCode, 1);
    assert.doesNotMatch(failed.stderr, /Command failed/);
    const chunk = batchLines({ add: ["10.0.0.2", "10.0.0.3"], remove: [] }, "lo");
    assert.deepEqual(
      rejectedLines(chunk, failed.stderr).map((r) => r.address),
      ["10.0.0.2", "10.0.0.3"],
      "every line of it counts as rejected: the caller re-lists the interface",
    );
    const next = await s.run(`${ADD_3}\n`);
    assert.equal(next.exitCode, 0);
    assert.equal(spawned.length, 2);
    assert.deepEqual(spawned[1]!.received, [ADD_3, BATCH_END], "numbered from 1 again");
    assert.deepEqual(ended, ["1"], "its end is told (the sidecar logs it)");
  });

  void test("a hanging ip is killed at the timeout; what it prints later is not the next batch's", async () => {
    const { s, spawned } = session(30);
    const first = s.run(`${ADD_1}\n`);
    await new Promise((r) => setImmediate(r));
    spawned[0]!.hang = true;
    const failed = await first;
    assert.equal(failed.exitCode, 1);
    assert.match(failed.stderr, /no answer from ip within 30 ms; killed/);
    assert.equal(spawned[0]!.killed, true);
    const next = s.run(`${ADD_2}\n`);
    spawned[0]!.print("Error: late");
    spawned[0]!.print("Command failed -:1");
    assert.deepEqual(await next, { stdout: "", stderr: "", exitCode: 0 });
    assert.equal(spawned.length, 2);
  });

  void test("close ends ip after the queued batches; a later run starts another", async () => {
    const { s, spawned, ended } = session();
    const queued = s.run(`${ADD_1}\n`);
    await s.close();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(ended, [], "an end close() asked for is not told");
    assert.equal((await queued).exitCode, 0);
    assert.deepEqual(spawned[0]!.received, [ADD_1, BATCH_END]);
    await s.run(`${ADD_2}\n`);
    assert.equal(spawned.length, 2);
  });
});
