// Golden tests: each folder under frr-templates/cases/ (the cases shipped with the templates, which
// `frr-advertiser test-templates` also runs) is one behaviour (config.yaml + objects.yaml →
// expected.conf), compared byte for byte; UPDATE_GOLDEN=1 rewrites them (review the diff like code).
// Every expected.conf must also pass FRR's own parser (`vtysh --dryrun`), and broken/frr.conf
// must fail it, which proves the check can fail. So must each one written again from its kept
// statements (ConfLayout: how the sidecar writes frr.conf under churn without a render).

import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseConfig, type Config } from "../../sidecar/src/config/load-config.js";
import { parseObjects } from "../../sidecar/src/cli/read-objects.js";
import { objectsToSnapshot } from "../../sidecar/src/kube/to-snapshot.js";
import type { DesiredState } from "../../sidecar/src/model/desired-state-types.js";
import { computeDesiredState } from "../../sidecar/src/model/desired-state.js";
import { toTemplateContext } from "../../sidecar/src/render/context.js";
import { compileTemplates, renderFrrConf } from "../../sidecar/src/render/renderer.js";
import { loadTemplateDir } from "../../sidecar/src/templates/load-template-dir.js";
import { ConfLayout } from "../../sidecar/src/frr/conf-layout.js";
import { parseConf, sameConf } from "../../sidecar/src/frr/config-delta.js";
import { IMAGE, PODMAN_ENV } from "../lab/image-frr.js";
import { missingOf, skippedWithout, type Requirement } from "../support/require-tool.js";

const ROOT = resolve(import.meta.dirname, "../..");
const CASES = join(ROOT, "frr-templates", "cases");
const BROKEN = join(import.meta.dirname, "broken", "frr.conf");
const UPDATE = process.env["UPDATE_GOLDEN"] === "1";
const VTYSH = process.env["VTYSH"] ?? "vtysh";

const caseNames = readdirSync(CASES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** The same objects in reverse order, inside Lists too: the render must not depend on order. */
function reversed(objects: readonly unknown[]): unknown[] {
  return [...objects].reverse().map((o) => {
    if (typeof o !== "object" || o === null || !Array.isArray((o as { items?: unknown }).items)) return o;
    return { ...o, items: [...(o as { items: unknown[] }).items].reverse() };
  });
}

async function renderCase(dir: string, order: (objects: unknown[]) => unknown[] = (o) => o): Promise<string> {
  return (await renderCaseWithState(dir, order)).text;
}

async function renderCaseWithState(
  dir: string,
  order: (objects: unknown[]) => unknown[] = (o) => o,
): Promise<{ text: string; state: DesiredState; config: Config }> {
  const configFile = join(dir, "config.yaml");
  // Password files are named relative to the case folder; NODE_NAME is unset so config.yaml decides.
  const config = await parseConfig(await readFile(configFile, "utf8"), configFile, {}, async (file) =>
    (await readFile(resolve(dir, file), "utf8")).replace(/\r?\n$/, ""),
  );
  const objectsFile = join(dir, "objects.yaml");
  const { snapshot, nodes, problems } = objectsToSnapshot(
    order(parseObjects(await readFile(objectsFile, "utf8"), objectsFile)),
  );
  assert.deepEqual(problems, [], `${objectsFile}: unreadable objects`);
  const node = nodes.find((n) => n.name === config.nodeName);
  assert.ok(node, `${objectsFile}: no Node named ${config.nodeName}`);
  const state = computeDesiredState(snapshot, node, config.policy);
  const templates = compileTemplates(await loadTemplateDir(join(ROOT, "frr-templates")));
  return { text: renderFrrConf(templates, toTemplateContext(config, state)), state, config };
}

/** One truth: what the model advertises is exactly what frr.conf announces and --explain says. */
void describe("golden: advertised prefixes == frr.conf == verdicts", () => {
  for (const name of caseNames) {
    void it(name, async () => {
      const { text, state, config } = await renderCaseWithState(join(CASES, name));
      const advertised = state.prefixes.map((p) => p.prefix).sort();
      const verdicts = state.decisions.filter((d) => d.advertise);
      assert.deepEqual(
        [
          ...new Set(verdicts.map((d) => (d.address.includes(":") ? `${d.address}/128` : `${d.address}/32`))),
        ].sort(),
        advertised,
        "advertised verdicts vs prefixes",
      );
      if (config.mode === "network") {
        const inConf = [...text.matchAll(/^ {2}network (\S+)/gm)].map((m) => m[1] ?? "").sort();
        assert.deepEqual(inConf, advertised, "network lines vs advertised prefixes");
      } else {
        // Connected mode: each advertised prefix is permitted by the family's export filter.
        for (const p of state.prefixes)
          assert.ok(config.bgp.families.includes(p.family), `${p.prefix}: family not carried`);
      }
    });
  }
});

void describe("golden: render", () => {
  void it("has cases", () => {
    assert.ok(caseNames.length >= 5, `expected at least 5 cases in ${CASES}`);
  });
  for (const name of caseNames) {
    void it(name, async () => {
      const dir = join(CASES, name);
      const expectedFile = join(dir, "expected.conf");
      const actual = await renderCase(dir);
      if (UPDATE) writeFileSync(expectedFile, actual);
      assert.ok(
        existsSync(expectedFile),
        `${expectedFile} is missing; run with UPDATE_GOLDEN=1 and review it`,
      );
      assert.equal(
        actual,
        readFileSync(expectedFile, "utf8"),
        `${name}: render differs from expected.conf (UPDATE_GOLDEN=1 rewrites it)`,
      );
    });
    void it(`${name}: same render with the objects in reverse order`, async () => {
      const dir = join(CASES, name);
      assert.equal(await renderCase(dir, reversed), await renderCase(dir));
    });
  }
});

interface SyntaxCheck {
  readonly status: number | null;
  /** FRR's complaints ("line N: % Unknown command…"), one per line. */
  readonly errors: readonly string[];
}

/** vtysh parses the file with the real CLI grammar, without any daemon running. */
function vtyshDryRun(file: string, inImage?: string): SyntaxCheck | undefined {
  const run =
    inImage === undefined
      ? spawnSync(VTYSH, ["--dryrun", "-f", file], { encoding: "utf8", timeout: 30_000 })
      : spawnSync(
          "podman",
          [
            "run",
            "--rm",
            "--pull",
            "never",
            "-v",
            `${file}:/check.conf:ro`,
            "--entrypoint",
            "vtysh",
            inImage,
          ].concat(["--dryrun", "-f", "/check.conf"]),
          { encoding: "utf8", timeout: 60_000, env: PODMAN_ENV },
        );
  if (run.error && (run.error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
  if (run.error) throw run.error;
  const errors = `${run.stdout}\n${run.stderr}`
    .split("\n")
    // vtysh's own config file is optional; its absence is not a problem with the checked file.
    .filter((l) => l.includes("% ") && !/Can't open configuration file .*vtysh\.conf/.test(l));
  return { status: run.status, errors };
}

/** vtysh absent: skipped locally, a failure where skips are not allowed (it would hide broken goldens). */
function dryRunOrSkip(t: TestContext, file: string): SyntaxCheck | undefined {
  if (skippedWithout(t, VTYSH, { for: "FRR syntax check (or set VTYSH=/path/to/vtysh)" })) return undefined;
  const result = vtyshDryRun(file);
  assert.ok(result, `${VTYSH} could not be run`);
  return result;
}

void describe("golden: FRR accepts every expected.conf (vtysh --dryrun)", () => {
  for (const name of caseNames) {
    void it(name, (t) => {
      const file = join(CASES, name, "expected.conf");
      assert.ok(existsSync(file), `${file} is missing`);
      const result = dryRunOrSkip(t, file);
      if (result === undefined) return;
      assert.deepEqual(result.errors, [], `${file}: FRR rejects lines`);
      assert.equal(result.status, 0, `${file}: vtysh --dryrun exit status`);
    });
  }

  void it("rejects broken/frr.conf (the check can fail)", (t) => {
    const result = dryRunOrSkip(t, BROKEN);
    if (result === undefined) return;
    assert.notEqual(result.status, 0, "vtysh --dryrun accepted a misspelled keyword");
    assert.ok(
      result.errors.some((l) => /remote-az/.test(l)),
      `expected a complaint about remote-az, got ${JSON.stringify(result.errors)}`,
    );
  });
});

/**
 * The image's FRR (Debian 13's 10.3): present after `npm run image`. Looked up once; each test
 * asks, so that where skips are not allowed only these tests fail, not the whole file.
 */
let imageLookup: { missing: string | undefined } | undefined;
const IMAGE_FRR: Requirement = {
  name: `podman image ${IMAGE}`,
  missing: () => (imageLookup ??= { missing: missingOf(`podman image ${IMAGE}`) }).missing,
};
const NEEDS_IMAGE = { for: "FRR 10.3 syntax check" };

void describe("golden: the image's FRR accepts every expected.conf too", () => {
  for (const name of caseNames) {
    void it(name, (t) => {
      if (skippedWithout(t, IMAGE_FRR, NEEDS_IMAGE)) return;
      const result = vtyshDryRun(join(CASES, name, "expected.conf"), IMAGE);
      assert.ok(result);
      assert.deepEqual(result.errors, [], `${name}: FRR 10.3 rejects lines`);
      assert.equal(result.status, 0, `${name}: vtysh --dryrun exit status (FRR 10.3)`);
    });
  }

  void it("rejects broken/frr.conf (the check can fail)", (t) => {
    if (skippedWithout(t, IMAGE_FRR, NEEDS_IMAGE)) return;
    const result = vtyshDryRun(BROKEN, IMAGE);
    assert.ok(result);
    assert.notEqual(result.status, 0, "FRR 10.3's vtysh --dryrun accepted a misspelled keyword");
  });
});

/**
 * expected.conf written again from its own statements and attribute route-maps, in the reverse
 * of the render's order (the order the applier keeps them in after fast changes differs too).
 */
function writtenFromKept(name: string): { readonly text: string; readonly file: string } {
  const expected = readFileSync(join(CASES, name, "expected.conf"), "utf8");
  const parsed = parseConf(expected);
  assert.ok(parsed, `${name}: expected.conf parses for deltas`);
  const text = ConfLayout.of(expected)?.write(
    [...parsed.networks.values()].reverse(),
    [...parsed.routeMaps.values()].reverse(),
  );
  assert.ok(text !== undefined, `${name}: no layout`);
  const again = parseConf(text);
  assert.ok(again && sameConf(again, parsed), `${name}: the written file holds something else:\n${text}`);
  const file = join(keptDir(), `${name}.conf`);
  writeFileSync(file, text);
  return { text, file };
}

let keptDirPath: string | undefined;
function keptDir(): string {
  keptDirPath ??= mkdtempSync(join(tmpdir(), "fa-golden-kept-"));
  return keptDirPath;
}
process.on("exit", () => {
  if (keptDirPath !== undefined) rmSync(keptDirPath, { recursive: true, force: true });
});

void describe("golden: frr.conf written from kept statements holds the same and FRR accepts it", () => {
  for (const name of caseNames) {
    void it(name, (t) => {
      const { file } = writtenFromKept(name);
      const host = dryRunOrSkip(t, file);
      if (host !== undefined) {
        assert.deepEqual(host.errors, [], `${name}: FRR rejects lines of the written file`);
        assert.equal(host.status, 0);
      }
      if (skippedWithout(t, IMAGE_FRR, NEEDS_IMAGE)) return;
      const image = vtyshDryRun(file, IMAGE);
      assert.ok(image);
      assert.deepEqual(image.errors, [], `${name}: FRR 10.3 rejects lines of the written file`);
      assert.equal(image.status, 0);
    });
  }
});
