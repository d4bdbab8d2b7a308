// `frr-advertiser test-templates` as an operator runs it: a real process on real template
// directories. It passes on the shipped templates and fails, saying why, on a copy whose export
// policy leaks and on one FRR's parser rejects — on the host's FRR and inside the image (FRR 10.3).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { IMAGE, PODMAN_ENV } from "../lab/image-frr.js";
import { missingOf, requireTool, skippedWithout, type Requirement } from "../support/require-tool.js";

const REPO = resolve(import.meta.dirname, "..", "..");
const SHIPPED = join(REPO, "frr-templates");
const tmp = mkdtempSync(join(tmpdir(), "fa-test-templates-"));
after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function testTemplates(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(REPO, "sidecar/src/main.ts"), "test-templates", ...args],
    { cwd: REPO, encoding: "utf8", env, timeout: 120_000 },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the shipped templates (cases included) with one partial edited. */
function copyWith(name: string, partial: string, edit: (text: string) => string): string {
  const dir = join(tmp, name);
  cpSync(SHIPPED, dir, { recursive: true });
  const file = join(dir, "partials", partial);
  const before = readFileSync(file, "utf8");
  const after = edit(before);
  assert.notEqual(after, before, `${name}: the edit of ${partial} changed nothing`);
  writeFileSync(file, after);
  return dir;
}

const EXPORT_ENTRY = "route-map {{exportRouteMap}} permit 10\n";

void describe("test-templates", () => {
  void it("passes on the shipped templates with their cases, FRR's parser included", (t) => {
    if (skippedWithout(t, "vtysh", { for: "test-templates FRR check" })) return;
    const r = testTemplates([SHIPPED]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^PASS network-dual-stack-attributes, FRR accepts it$/m);
    assert.match(r.stdout, /^PASS connected-attributes, FRR accepts it$/m);
    assert.match(r.stdout, /\d+ passed, 0 failed$/m);
    assert.doesNotMatch(r.stdout, /FAIL|skipped/);
  });

  void it("says loudly when FRR's check cannot run", () => {
    const r = testTemplates([SHIPPED], { ...process.env, VTYSH: "/nonexistent/vtysh" });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^FRR check skipped: no \/nonexistent\/vtysh on PATH/m);
    assert.match(r.stdout, /passed, 0 failed \(FRR check skipped\)$/m);
  });

  void it("fails on an export route-map entry that permits everything", () => {
    // --update: the expected output follows the copy, so only the invariant can fail it.
    const dir = copyWith("permit-all", "peer-policy.hbs", (s) =>
      s.replace(EXPORT_ENTRY, `route-map {{exportRouteMap}} permit 5\nexit\n!\n${EXPORT_ENTRY}`),
    );
    const r = testTemplates([dir, "--update"], { ...process.env, VTYSH: "/nonexistent/vtysh" });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAIL network-dual-stack-attributes/m);
    assert.match(
      r.stdout,
      /export policy route-map FRRADV-EXPORT-V4 out \(ipv4, neighbour 192\.0\.2\.1\) permits prefixes outside advertise\.allowedCidrs: 10\.95\.255\.255\/32 \(just below 10\.96\.0\.0\/12\).*; by route-map FRRADV-EXPORT-V4 permit 5$/m,
    );
    assert.match(r.stdout, /permits 10\.96\.0\.1\/32, excluded by advertise\.excludedIps 10\.96\.0\.1/);
    assert.match(r.stdout, /^0 passed, \d+ failed/m);
  });

  void it("fails on a prefix-list entry that permits everything, and shows the diff", () => {
    const dir = copyWith("le-32", "peer-policy.hbs", (s) =>
      s.replace(
        "{{/each}}\n!\nroute-map {{exportRouteMap}}",
        "{{/each}}\n{{ipWord}} prefix-list {{allowedPrefixList.name}} seq 99999 permit any\n!\nroute-map {{exportRouteMap}}",
      ),
    );
    const r = testTemplates([dir], { ...process.env, VTYSH: "/nonexistent/vtysh" });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /permits prefixes outside advertise\.allowedCidrs: .*by route-map FRRADV-EXPORT-V4 permit 10/,
    );
    assert.match(r.stdout, /the render differs from expected\.conf/);
    assert.match(r.stdout, /^ {4}\+ip prefix-list FRRADV-ALLOWED-V4 seq 99999 permit any$/m);
  });

  void it("fails, quoting FRR, on output FRR rejects", (t) => {
    if (skippedWithout(t, "vtysh", { for: "test-templates FRR check" })) return;
    const dir = copyWith("garbage", "header.hbs", (s) => `${s}bgp frobnicate everything\n`);
    const r = testTemplates([dir, "--update"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAIL network-empty, FRR rejects it( \(expected\.conf updated\))?$/m);
    assert.match(r.stdout, /^ {2}- FRR rejects it: line \d+: % Unknown command.*bgp frobnicate everything$/m);
  });

  void it("--update rewrites expected.conf; then the copy passes", () => {
    const dir = copyWith("reworded", "header.hbs", (s) =>
      s.replace("hostname {{hostname}}", "hostname {{hostname}}\n! edited"),
    );
    const env = { ...process.env, VTYSH: "/nonexistent/vtysh" };
    assert.equal(testTemplates([dir]).code, 1);
    const updated = testTemplates([dir, "--update"], env);
    assert.equal(updated.code, 0, updated.stdout);
    assert.match(updated.stdout, /\(expected\.conf updated\)/);
    assert.match(readFileSync(join(dir, "cases", "network-empty", "expected.conf"), "utf8"), /^! edited$/m);
    assert.equal(testTemplates([dir], env).code, 0);
  });

  void it("usage and input errors exit 2; --output json has the documented shape", () => {
    assert.equal(testTemplates([]).code, 2);
    assert.equal(testTemplates([SHIPPED, "--cases", join(tmp, "nope")]).code, 2);
    const noCases = join(tmp, "no-cases");
    cpSync(join(SHIPPED, "partials"), join(noCases, "partials"), { recursive: true });
    cpSync(join(SHIPPED, "frr.conf.hbs"), join(noCases, "frr.conf.hbs"));
    const refused = testTemplates([noCases, "--update"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /does not rewrite the shipped cases; copy them first/);
    const json = testTemplates([noCases, "--output", "json"], {
      ...process.env,
      VTYSH: "/nonexistent/vtysh",
    });
    assert.equal(json.code, 0, json.stdout + json.stderr);
    const report = JSON.parse(json.stdout) as { pass: boolean; cases: string; results: { name: string }[] };
    assert.equal(report.pass, true);
    assert.equal(report.cases, join(SHIPPED, "cases"), "without DIR/cases: the shipped cases");
    assert.ok(report.results.length >= 5);
  });
});

/**
 * Inside the image, on its FRR (10.3): the current sidecar, bundled as the image's build does, is
 * mounted over /app with the shipped templates, so the test runs this tree's command whether or
 * not the image was rebuilt since.
 */
const IMAGE_NEED: Requirement = {
  name: `podman image ${IMAGE}`,
  missing: () => missingOf(`podman image ${IMAGE}`),
};
void describe(
  "test-templates in the image",
  { skip: requireTool(IMAGE_NEED, { for: "test-templates in the image" }) },
  () => {
    const app = join(tmp, "app");
    before(() => {
      const b = spawnSync(
        process.execPath,
        [join(REPO, "image/bundle.ts"), join(app, "frr-advertiser.mjs")],
        {
          cwd: REPO,
          encoding: "utf8",
          timeout: 120_000,
        },
      );
      assert.equal(b.status, 0, b.stderr);
      cpSync(SHIPPED, join(app, "frr-templates"), { recursive: true });
    });
    const inImage = (templates: string | undefined, args: string[]) =>
      spawnSync(
        "podman",
        [
          "run",
          "--rm",
          "--pull",
          "never",
          "-v",
          `${app}:/app:ro`,
          ...(templates === undefined ? [] : ["-v", `${templates}:/t:ro`]),
          IMAGE,
          "test-templates",
          ...args,
        ],
        { encoding: "utf8", timeout: 180_000, env: PODMAN_ENV },
      );

    void it("passes on the shipped templates (the bundled cases), FRR 10.3 accepting each", () => {
      const r = inImage(undefined, ["/app/frr-templates"]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^PASS network-dual-stack-attributes, FRR accepts it$/m);
      assert.doesNotMatch(r.stdout, /skipped|FAIL/);
    });

    void it("fails on a copy FRR 10.3 rejects", () => {
      const dir = copyWith("garbage-image", "header.hbs", (s) => `${s}bgp frobnicate everything\n`);
      const r = inImage(dir, ["/t"]);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^ {2}- FRR rejects it: .*bgp frobnicate everything$/m);
    });
  },
);
