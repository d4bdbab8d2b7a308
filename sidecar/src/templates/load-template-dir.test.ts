// The template directory loader: what it reads, what it ignores, and errors that name the file.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TemplateLoadError, loadTemplateDir } from "./load-template-dir.js";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "frradv-templates-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void describe("loadTemplateDir", () => {
  void it("reads frr.conf.hbs and partials/*.hbs; ignores other files and dot entries", () =>
    withDir(async (dir) => {
      await mkdir(join(dir, "partials"));
      await writeFile(join(dir, "frr.conf.hbs"), "main");
      await writeFile(join(dir, "partials", "b.hbs"), "B");
      await writeFile(join(dir, "partials", "a-1_x.hbs"), "A");
      await writeFile(join(dir, "partials", "README.md"), "not a template");
      await writeFile(join(dir, "partials", ".hidden.hbs"), "skip");
      assert.deepEqual(await loadTemplateDir(dir), { main: "main", partials: { "a-1_x": "A", b: "B" } });
    }));

  void it("follows ConfigMap-style symlinks into a ..data directory", () =>
    withDir(async (dir) => {
      await mkdir(join(dir, "..2026_11_23", "partials"), { recursive: true });
      await writeFile(join(dir, "..2026_11_23", "frr.conf.hbs"), "main");
      await writeFile(join(dir, "..2026_11_23", "partials", "p.hbs"), "P");
      await symlink("..2026_11_23", join(dir, "..data"));
      await symlink(join("..data", "frr.conf.hbs"), join(dir, "frr.conf.hbs"));
      await symlink(join("..data", "partials"), join(dir, "partials"));
      assert.deepEqual(await loadTemplateDir(dir), { main: "main", partials: { p: "P" } });
    }));

  void it("accepts a directory without partials/", () =>
    withDir(async (dir) => {
      await writeFile(join(dir, "frr.conf.hbs"), "main");
      assert.deepEqual(await loadTemplateDir(dir), { main: "main", partials: {} });
    }));

  void it("names the missing main template", () =>
    withDir(async (dir) => {
      await assert.rejects(loadTemplateDir(dir), (err: unknown) => {
        assert.ok(err instanceof TemplateLoadError);
        assert.equal(err.file, join(dir, "frr.conf.hbs"));
        assert.equal(err.message, `template ${join(dir, "frr.conf.hbs")}: missing`);
        return true;
      });
    }));

  void it("names an unreadable partial and a partial name Handlebars cannot call", () =>
    withDir(async (dir) => {
      await writeFile(join(dir, "frr.conf.hbs"), "main");
      await mkdir(join(dir, "partials", "dir.hbs"), { recursive: true });
      await assert.rejects(loadTemplateDir(dir), /partials\/dir\.hbs: cannot read/);
      await rm(join(dir, "partials", "dir.hbs"), { recursive: true });
      await writeFile(join(dir, "partials", "bad name.hbs"), "x");
      await assert.rejects(loadTemplateDir(dir), /partials\/bad name\.hbs: a partial's name/);
    }));

  void it("loads the bundled frr-templates", async () => {
    const sources = await loadTemplateDir(join(import.meta.dirname, "../../../frr-templates"));
    assert.deepEqual(Object.keys(sources.partials).sort(), [
      "address-family",
      "header",
      "neighbors",
      "peer-policy",
      "service-policy",
    ]);
  });
});
