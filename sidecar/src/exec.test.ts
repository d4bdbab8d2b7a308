import assert from "node:assert/strict";
import { test } from "node:test";
import { createRunner } from "./exec.js";

const run = createRunner(5000);

test("the runner returns a program's stdout, stderr and exit code", async () => {
  const r = await run(["sh", "-c", "printf 'a\\nb\\n'; printf 'oops' >&2; exit 3"]);
  assert.deepEqual(r, { stdout: "a\nb\n", stderr: "oops", exitCode: 3 });
});

test("the runner feeds input on stdin and keeps output split over many chunks whole", async () => {
  // ≈ 1 MB through cat arrives in many pipe reads; a multi-byte character may straddle two.
  const text = "µ-lin\n".repeat(150_000);
  const r = await run(["cat"], { input: text });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout.length, text.length);
  assert.equal(r.stdout, text);
});

test("the runner says when a program timed out, and kills it", async () => {
  const started = Date.now();
  const r = await run(["sleep", "5"], { timeoutMs: 200 });
  assert.equal(r.exitCode, 124);
  assert.match(r.stderr, /timed out after 200 ms/);
  assert.ok(Date.now() - started < 4000);
});

test("the runner says why a program did not run at all", async () => {
  const r = await run(["/nonexistent/program-xyz"]);
  assert.notEqual(r.exitCode, 0);
  assert.match(r.stderr, /ENOENT|not found|nonexistent/i);
});
