// requireTool: what counts as present, when a missing tool skips and when it fails, and what the
// messages say (the reason is all a developer sees of a skipped suite).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { missingOf, requireTool, skippedWithout, skipsAllowed, type Requirement } from "./require-tool.js";

const ABSENT_COMMAND = "fa-no-such-tool-7f3c";
const ABSENT_FILE = "/nonexistent/fa-require-tool/frr-reload.py";
const LOCAL: NodeJS.ProcessEnv = {};
const CI: NodeJS.ProcessEnv = { CI: "true" };

/** A recorder standing in for the test context's skip(). */
function fakeContext(): { skip(message?: string): void; skipped: (string | undefined)[] } {
  const skipped: (string | undefined)[] = [];
  return {
    skipped,
    skip(message?: string) {
      skipped.push(message);
    },
  };
}

void describe("missingOf", () => {
  void test("a command on PATH, a file, this platform and an existing user are present", () => {
    assert.equal(missingOf("sh"), undefined);
    assert.equal(missingOf(process.execPath), undefined);
    assert.equal(missingOf("user root"), undefined);
    if (process.platform === "linux") assert.equal(missingOf("linux"), undefined);
  });

  void test("what is missing is named, with how to get it", () => {
    assert.equal(missingOf(ABSENT_COMMAND), `${ABSENT_COMMAND} on PATH (apt-get install ${ABSENT_COMMAND})`);
    assert.equal(missingOf("/nonexistent/fa-require-tool/x"), "/nonexistent/fa-require-tool/x");
    assert.equal(
      missingOf("/usr/lib/frr/no-such-daemon"),
      "/usr/lib/frr/no-such-daemon (apt-get install frr)",
    );
    assert.equal(missingOf("user fa-no-such-user"), "user fa-no-such-user");
  });

  void test("a name that could smuggle shell syntax is looked up as a name, not run", () => {
    assert.match(missingOf("sh; true") ?? "", /^sh; true on PATH$/);
  });

  void test("podman image: podman or the image is named as missing", () => {
    const why = missingOf("podman image localhost/fa-no-such-image:none");
    assert.ok(why !== undefined);
    assert.match(why, /podman image localhost\/fa-no-such-image:none \(npm run image\)|^podman /);
  });

  void test("root: present exactly when running as uid 0", () => {
    assert.equal(missingOf("root") === undefined, process.getuid?.() === 0);
  });

  void test("a check of its own decides for itself", () => {
    const here: Requirement = { name: "here", missing: () => undefined };
    const gone: Requirement = { name: "gone", missing: () => "gone (build it first)" };
    assert.equal(missingOf(here), undefined);
    assert.equal(missingOf(gone), "gone (build it first)");
  });
});

void describe("skipsAllowed", () => {
  const cases: [NodeJS.ProcessEnv, boolean][] = [
    [{}, true],
    [{ CI: "" }, true],
    [{ CI: "false" }, true],
    [{ CI: "0" }, true],
    [{ CI: "true" }, false],
    [{ CI: "1" }, false],
    [{ CI: "yes" }, false],
    [{ FA_REQUIRE_TOOLS: "1" }, false],
    [{ CI: "true", FA_REQUIRE_TOOLS: "0" }, true],
  ];
  for (const [env, want] of cases) {
    void test(`${JSON.stringify(env)} → ${want ? "skips allowed" : "no skips"}`, () => {
      assert.equal(skipsAllowed(env), want);
    });
  }
});

void describe("requireTool", () => {
  void test("everything present: false (run the test), also in CI", () => {
    assert.equal(requireTool(["sh", process.execPath], { env: LOCAL }), false);
    assert.equal(requireTool("sh", { env: CI }), false);
  });

  void test("something missing where skips are allowed: the reason lists every missing piece", () => {
    const why = requireTool(["sh", ABSENT_COMMAND, ABSENT_FILE], { for: "netns lab", env: LOCAL });
    assert.equal(
      why,
      `netns lab skipped: missing ${ABSENT_COMMAND} on PATH (apt-get install ${ABSENT_COMMAND}); ${ABSENT_FILE}`,
    );
  });

  void test("something missing in CI: it throws, naming what is missing", () => {
    assert.throws(
      () => requireTool([ABSENT_COMMAND, "sh"], { for: "e2e", env: CI }),
      (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /^e2e cannot run here and skipping is not allowed/);
        assert.match(err.message, new RegExp(`missing ${ABSENT_COMMAND} on PATH`));
        assert.doesNotMatch(err.message, /missing .*\bsh on PATH/);
        return true;
      },
    );
  });

  void test("FA_REQUIRE_TOOLS=1 fails without CI too", () => {
    assert.throws(
      () => requireTool(ABSENT_COMMAND, { env: { FA_REQUIRE_TOOLS: "1" } }),
      /skipping is not allowed/,
    );
  });
});

void describe("skippedWithout", () => {
  void test("present: the test runs, nothing is skipped", () => {
    const t = fakeContext();
    assert.equal(skippedWithout(t, "sh", { env: CI }), false);
    assert.deepEqual(t.skipped, []);
  });

  void test("missing where skips are allowed: skips the test with the reason", () => {
    const t = fakeContext();
    assert.equal(skippedWithout(t, ABSENT_COMMAND, { env: LOCAL }), true);
    assert.deepEqual(t.skipped, [
      `test skipped: missing ${ABSENT_COMMAND} on PATH (apt-get install ${ABSENT_COMMAND})`,
    ]);
  });

  void test("missing in CI: throws (that test fails) and never skips", () => {
    const t = fakeContext();
    assert.throws(() => skippedWithout(t, ABSENT_COMMAND, { env: CI }), /skipping is not allowed/);
    assert.deepEqual(t.skipped, []);
  });
});
