// The container image, checked without a Docker engine: the Dockerfile's stages, pins and FRR
// version coupling, its entry point, its user, the files it copies (and .dockerignore lets through),
// hadolint's rules that can be read off the file, and the runtime stage's /app assembled from the
// Dockerfile's own COPY lines, started with production dependencies only.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix, relative, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import {
  copyPaths,
  dockerignoreMatcher,
  parseDockerfile,
  type Instruction,
  type Stage,
} from "./dockerfile-model.js";
import { skippedWithout } from "../support/require-tool.js";

const REPO = resolve(import.meta.dirname, "..", "..");
const text = readFileSync(join(REPO, "Dockerfile"), "utf8");
const df = parseDockerfile(text);
const isIgnored = dockerignoreMatcher(readFileSync(join(REPO, ".dockerignore"), "utf8"));

function stage(name: string): Stage {
  const s = df.stages.find((x) => x.name === name);
  assert.ok(s, `no stage named ${name}`);
  return s;
}
const runtime = df.stages[df.stages.length - 1]!;
const frrVersion = df.globalArgs.get("FRR_VERSION");
const nodeVersion = df.globalArgs.get("NODE_VERSION");

function only(s: Stage, keyword: string): Instruction[] {
  return s.instructions.filter((i) => i.keyword === keyword);
}

void test("the Dockerfile parses into build and runtime stages, both on Debian 13", () => {
  assert.deepEqual(
    df.stages.map((s) => s.name),
    ["build", "runtime"],
  );
  const debian = "${DEBIAN_IMAGE}:${DEBIAN_TAG}${DEBIAN_DIGEST}";
  assert.equal(stage("build").baseRaw, debian);
  assert.equal(runtime.baseRaw, debian);
  assert.equal(runtime.base, "docker.io/library/debian:trixie-slim", "tag defaults, empty digest");
});

void test("every base image is pinned by a tag (never latest, never untagged)", () => {
  const earlier = new Set<string>();
  for (const s of df.stages) {
    if (!earlier.has(s.base)) {
      assert.doesNotMatch(s.base, /\$/, `FROM ${s.baseRaw}: an ARG without a default`);
      const name = s.base.split("/").pop() ?? "";
      const tag = /:([^:@]+)$/.exec(name)?.[1];
      assert.ok(tag !== undefined || s.base.includes("@sha256:"), `FROM ${s.base} has no tag`);
      assert.notEqual(tag, "latest", `FROM ${s.base}`);
    }
    if (s.name !== undefined) earlier.add(s.name);
  }
  assert.match(nodeVersion ?? "", /^24(\.\d+){0,2}$/, "Node 24 LTS (ADR 0001)");
});

void test("the FRR version is written once, as the ARG default, and drives check and label", () => {
  assert.match(frrVersion ?? "", /^\d+\.\d+(\.\d+)?$/);
  const defaults = df.instructions.filter((i) => i.keyword === "ARG" && i.args.startsWith("FRR_VERSION="));
  assert.equal(defaults.length, 1, "one ARG FRR_VERSION=… default");
  assert.ok(
    only(runtime, "ARG").some((i) => i.args === "FRR_VERSION"),
    "the runtime stage re-declares FRR_VERSION",
  );
  const check = only(runtime, "RUN").find((i) => i.args.includes("vtysh --help"));
  assert.ok(check?.args.includes("${FRR_VERSION}"), "the build fails unless vtysh reports FRR_VERSION");
  assert.ok(
    only(runtime, "LABEL").some((i) => i.args.includes('io.frr-advertiser.frr-version="${FRR_VERSION}"')),
    "the image says which FRR it carries",
  );
});

void test("the chart runs FRR from this image (one image for both containers)", () => {
  const values = join(REPO, "chart", "values.yaml");
  const doc = parseYaml(readFileSync(values, "utf8")) as {
    image?: { repository?: unknown };
    frr?: { image?: { repository?: unknown; tag?: unknown } };
  } | null;
  assert.equal(doc?.frr?.image?.repository ?? "", "", "frr.image.repository empty: the advertiser's image");
});

void test("ENTRYPOINT is tini, then node, then the CLI where the image has it; CMD runs `run`", () => {
  const entrypoints = only(runtime, "ENTRYPOINT");
  const cmds = only(runtime, "CMD");
  assert.equal(entrypoints.length, 1);
  assert.equal(cmds.length, 1);
  const entry = entrypoints[0]!.json;
  const cmd = cmds[0]!.json;
  assert.ok(entry && cmd, "exec (JSON) form, so tini is PID 1 and gets SIGTERM");
  assert.deepEqual(
    entry.slice(0, 2),
    ["/usr/bin/tini", "--"],
    "tini without -g: the drain's own child processes must survive SIGTERM",
  );
  // Optionally env(1) with NAME=value words (glibc allocator settings for node only) before node.
  const afterTini = entry.slice(2);
  const nodeAt = afterTini.findIndex((w) => w.endsWith("/node"));
  if (nodeAt > 0) {
    assert.equal(afterTini[0], "/usr/bin/env", "only env(1) may come between tini and node");
    assert.ok(
      afterTini
        .slice(1, nodeAt)
        .every((w) => /^MALLOC_[A-Z_]+=\d+$/.test(w) || /^NODE_COMPILE_CACHE=\/app\/[a-z-]+$/.test(w)),
      `env sets only glibc's MALLOC_* tunables and node's compile cache under /app: ${afterTini.slice(1, nodeAt).join(" ")}`,
    );
  }
  const [node, ...rest] = afterTini.slice(Math.max(0, nodeAt));
  const bin = rest.at(-1);
  // Between node and the bundle only node's own flags (the benchmark runs the bundle with them).
  assert.ok(
    rest.slice(0, -1).every((f) => /^--[a-z-]+(=\S+)?$/.test(f)),
    `node flags only: ${rest.join(" ")}`,
  );
  const files = imageFiles();
  assert.equal(node, "/usr/local/bin/node");
  assert.ok(
    only(runtime, "COPY").some(
      (i) => i.flags.get("from") === "build" && copyPaths(i).dest === "/usr/local/bin/node",
    ),
    "node comes from the build stage (the npm registry's official binary)",
  );
  assert.equal(files.get(posix.dirname(bin!)), "build:/out/", `${bin} comes with the build stage's bundle`);
  assert.deepEqual(cmd.slice(0, 2), ["run", "--config"]);
  assert.equal(cmd[2], "/etc/frr-advertiser/config.yaml", "the default path of the README");
});

void test("the compile cache is made by the ENTRYPOINT's own command, word for word, as the image's user", () => {
  // Node accepts a cache only for the same V8 flags and user id: a warm-up with other flags or
  // run as another user would leave a cache the sidecar never reads (the pod test shows it is read).
  const entry = only(runtime, "ENTRYPOINT")[0]!.json!;
  const cacheWord = entry.find((w) => w.startsWith("NODE_COMPILE_CACHE="));
  assert.ok(cacheWord !== undefined, "the ENTRYPOINT sets NODE_COMPILE_CACHE");
  const cacheDir = cacheWord.slice("NODE_COMPILE_CACHE=".length);
  const command = `${entry.slice(2).join(" ")} run --config /nonexistent/config.yaml`;
  const runs = only(runtime, "RUN");
  const warmAt = runs.findIndex((r) => r.args.includes(command));
  assert.ok(warmAt >= 0, `a RUN runs the ENTRYPOINT's command: ${command}`);
  const warm = runs[warmAt]!;
  assert.ok(
    warm.args.includes(`${command} >/dev/null 2>&1; then false; else test $? -eq 2; fi`),
    "it stops at its config check (exit 2), with the module graph loaded",
  );
  assert.ok(warm.args.includes(`find ${cacheDir} -type f`), "the build fails when no cache was written");
  // The user at that RUN: the last USER before it (none: root), and the ENTRYPOINT's is root too.
  const users = runtime.instructions.filter((i) => i.keyword === "USER");
  const before = users.filter((u) => u.line < warm.line).at(-1)?.args ?? "root";
  const after = users.at(-1)?.args ?? "root";
  assert.equal(before.split(":")[0], after.split(":")[0], "the warm-up runs as the ENTRYPOINT's user");
  const laterCopies = only(runtime, "COPY").filter((c) => c.line > warm.line);
  assert.deepEqual(
    laterCopies.filter((c) => copyPaths(c).dest.startsWith("/app")).map((c) => c.raw),
    [],
    "nothing under /app changes after the cache was made",
  );
});

void test("the USER is non-root, or root is justified next to it and in ADR 0007", () => {
  const users = only(runtime, "USER");
  assert.ok(users.length > 0, "an explicit USER in the runtime stage");
  const last = users[users.length - 1]!;
  const user = last.args.split(":")[0] ?? "";
  if (user !== "root" && user !== "0") return;
  assert.ok(
    last.comments.some((c) => /hadolint ignore=DL3002/.test(c)),
    "root only with the DL3002 pragma above USER",
  );
  assert.match(last.comments.join(" "), /NET_ADMIN/, "the reason is written above USER");
  const adr = readFileSync(join(REPO, "docs/adr/0007-container-image.md"), "utf8");
  assert.match(adr, /USER root/);
  assert.match(adr, /NET_ADMIN/);
  assert.match(adr, /drop_cap/, "why a non-root user with file capabilities does not work");
});

void test("files COPYed from the build context exist and .dockerignore lets them through", () => {
  for (const s of df.stages) {
    for (const ins of only(s, "COPY").filter((i) => !i.flags.has("from"))) {
      for (const src of copyPaths(ins).sources) {
        const abs = join(REPO, src);
        assert.ok(existsSync(abs), `line ${ins.line}: ${src} does not exist`);
        const files = statSync(abs).isDirectory() ? listFiles(abs).map((f) => relative(REPO, f)) : [src];
        const kept = files.filter((f) => !isIgnored(f));
        assert.ok(kept.length > 0, `line ${ins.line}: .dockerignore excludes ${src}`);
      }
    }
  }
  // Every module tsc compiles in the image is in the context; tests and local state are not.
  for (const f of listFiles(join(REPO, "sidecar/src")).map((x) => relative(REPO, x))) {
    const production = f.endsWith(".ts") && !/\.test(-helper)?\.ts$/.test(f);
    assert.equal(
      isIgnored(f),
      !production,
      `${f} ${production ? "must be in" : "must stay out of"} the build context`,
    );
  }
  for (const f of [
    "node_modules/yaml/package.json",
    "dist/main.js",
    ".git/HEAD",
    "tests/cli/render-cli.test.ts",
    "kind-lab/up.sh",
    "chart/Chart.yaml",
    "test-results.tap",
  ]) {
    assert.ok(isIgnored(f), `${f} stays out of the build context`);
  }
});

void test("no production dependency has an install script (the build runs npm ci --ignore-scripts)", () => {
  const lock = JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }>;
  };
  const scripted = Object.entries(lock.packages).filter(
    ([k, v]) => k !== "" && v.dev !== true && v.hasInstallScript === true,
  );
  assert.deepEqual(
    scripted.map(([k]) => k),
    [],
  );
  const build = only(stage("build"), "RUN").map((i) => i.args);
  assert.ok(build.some((r) => r.includes("npm ci --ignore-scripts")));
  // What the image runs is the bundle of the production dependencies, with their licenses.
  assert.ok(build.some((r) => r.includes("image/bundle.ts") && r.includes("THIRD-PARTY-LICENSES")));
});

void test("hadolint's rules that can be read off the file hold", () => {
  const names = new Set<string>();
  for (const s of df.stages) {
    let pipefail = false;
    let workdir = false;
    let previous = "";
    for (const ins of s.instructions) {
      const where = `line ${ins.line} (${ins.keyword})`;
      if (["CMD", "ENTRYPOINT", "SHELL"].includes(ins.keyword))
        assert.ok(ins.json, `${where}: JSON form (DL3025)`);
      if (ins.keyword === "SHELL") pipefail = ins.json?.includes("pipefail") ?? false;
      if (ins.keyword === "WORKDIR") {
        assert.ok(ins.args.startsWith("/"), `${where}: absolute WORKDIR (DL3000)`);
        workdir = true;
      }
      assert.notEqual(ins.keyword, "ADD", `${where}: COPY, not ADD (DL3020)`);
      assert.notEqual(ins.keyword, "MAINTAINER", `${where}: deprecated (DL4000)`);
      if (ins.keyword === "COPY") {
        const from = ins.flags.get("from");
        if (from !== undefined)
          assert.ok(names.has(from), `${where}: --from=${from} is an earlier stage (DL3022)`);
        if (!copyPaths(ins).dest.startsWith("/"))
          assert.ok(workdir, `${where}: relative destination without WORKDIR (DL3045)`);
      }
      if (ins.keyword === "RUN") {
        assert.notEqual(previous, "RUN", `${where}: consecutive RUNs (DL3059)`);
        if (/(^|[^|])\|([^|]|$)/.test(ins.args))
          assert.ok(pipefail, `${where}: a pipe needs SHELL with -o pipefail (DL4006)`);
        assert.doesNotMatch(ins.args, /(^|&&|;)\s*cd\s/, `${where}: WORKDIR, not cd (DL3003)`);
        assert.doesNotMatch(ins.args, /\bsudo\b/, `${where}: no sudo (DL3004)`);
        if (/\bapt-get install\b/.test(ins.args)) {
          assert.match(ins.args, /apt-get install -y --no-install-recommends/, `${where}: DL3014/DL3015`);
          assert.match(ins.args, /rm -rf \/var\/lib\/apt\/lists\/\*/, `${where}: clean the lists (DL3009)`);
          const pinned = /apt-get install -y --no-install-recommends(\s+\S+=\S+)+/.test(ins.args);
          assert.ok(
            pinned || ins.comments.some((c) => /hadolint ignore=.*DL3008/.test(c)),
            `${where}: pin apt packages or say why not (DL3008)`,
          );
        }
      }
      previous = ins.keyword;
    }
    for (const kw of ["CMD", "ENTRYPOINT"])
      assert.ok(only(s, kw).length <= 1, `stage ${s.name}: one ${kw} (DL4003/DL4004)`);
    if (s.name !== undefined) names.add(s.name);
  }
});

void test("every RUN passes shellcheck (what hadolint runs on them)", (t) => {
  if (skippedWithout(t, "shellcheck")) return;
  const dir = mkdtempSync(join(tmpdir(), "fa-df-sc-"));
  try {
    for (const s of df.stages) {
      for (const ins of only(s, "RUN").filter((i) => i.json === undefined)) {
        // ARG and ENV values are environment variables to the shell.
        const file = join(dir, `line-${ins.line}.sh`);
        writeFileSync(file, `#!/bin/sh\n# shellcheck disable=SC2154\n${ins.args}\n`);
        const r = spawnSync("shellcheck", ["-s", "sh", "-S", "warning", file], { encoding: "utf8" });
        assert.equal(r.status, 0, `Dockerfile line ${ins.line}:\n${r.stdout}${r.stderr}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- the runtime stage's /app, assembled from the Dockerfile's COPY lines -----------------------

const work = mkdtempSync(join(tmpdir(), "fa-image-"));
const rootfs = join(work, "rootfs");
const buildOut = join(work, "build");

before(() => {
  // The build stage's bundle command, read from the Dockerfile's RUN and run as written, with
  // /out/ mapped to a directory of our own.
  const run = only(stage("build"), "RUN").find((r) => r.args.includes("image/bundle.ts"));
  assert.ok(run, "the build stage bundles with image/bundle.ts");
  const command = /(node image\/bundle\.ts[^&]*?)\s*&&/s.exec(run.args)?.[1];
  assert.ok(command, "a bundle command line followed by &&");
  const esbuild = spawnSync("bash", ["-c", command.replaceAll("/out/", `${buildOut}/`)], {
    cwd: REPO,
    encoding: "utf8",
  });
  assert.equal(esbuild.status, 0, `the Dockerfile's esbuild failed:\n${esbuild.stdout}${esbuild.stderr}`);
  // The runtime stage's COPY lines, as Docker runs them.
  assembleRuntime();
});

after(() => {
  rmSync(work, { recursive: true, force: true });
});

void test("after the build, the runtime stage has the sidecar's files where it expects them", () => {
  for (const f of ["app/frr-advertiser.mjs", "app/frr-templates/frr.conf.hbs", "app/LICENSE"]) {
    assert.ok(existsSync(join(rootfs, f)), `/${f} is missing from the image`);
  }
  assert.ok(!existsSync(join(rootfs, "app/node_modules")), "no node_modules: the bundle only");
});

void test("the bundle leaves out client-node's generated API classes, model serializer and undici, and zod's locales", () => {
  // image/bundle.ts declares client-node's modules free of side effects; without that (or without
  // code splitting) every Kubernetes model class is bundled and loaded (≈ 15 MB more RSS). undici
  // (its HTTP parser is llhttp) is left out for the sidecar's own node:https transport (≈ 10 MB).
  // The config schema imports zod as a namespace (`import * as z`), which lets esbuild drop what
  // it does not use: `import { z }` keeps all of zod, its 40 locales and JSON-schema generator
  // among it (≈ 440 KB of code, ≈ 4 MB RSS); "Eingabe" is from the German locale.
  const files = readdirSync(join(rootfs, "app"), { recursive: true, encoding: "utf8" }).filter((f) =>
    f.endsWith(".mjs"),
  );
  assert.ok(files.length > 1, `an entry file and its chunks: ${files.join(", ")}`);
  for (const f of files) {
    const text = readFileSync(join(rootfs, "app", f), "utf8");
    for (const name of [
      "CoreV1Api",
      "V1PodSpec",
      "ObjectSerializer",
      "llhttp",
      "Eingabe",
      "JSONSchemaGenerator",
    ])
      assert.ok(!text.includes(name), `/app/${f} contains ${name}`);
  }
});

void test("loading the bundle's run command leaves Node's internal undici unloaded", () => {
  // image/bundle.ts: an ESM import of node:http reads its lazy WebSocket getter, which loads
  // Node's own fetch implementation (≈ 3 MB RSS in the sidecar); the bundle imports it through
  // require's exports object instead.
  const chunks = join(rootfs, "app", "chunks");
  const run = readdirSync(chunks).find((f) => f.startsWith("run-command-"));
  assert.ok(run, "a run-command chunk");
  const probe = spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `await import(${JSON.stringify(join(chunks, run))});
       const loaded = process.moduleLoadList;
       console.log(JSON.stringify({ http: loaded.includes("NativeModule http"),
         undici: loaded.filter((m) => m.includes("undici")) }));`,
    ],
    { encoding: "utf8" },
  );
  assert.equal(probe.status, 0, probe.stderr);
  const seen = JSON.parse(probe.stdout) as { http: boolean; undici: string[] };
  assert.ok(seen.http, "the run command loads node:http (else this test proves nothing)");
  assert.deepEqual(seen.undici, []);
});

void test("the entry point, the bundle alone, runs: --help, render, run", () => {
  assert.equal(
    process.versions.node.split(".")[0],
    (nodeVersion ?? "").split(".")[0],
    "run this test with the image's Node major",
  );
  const entry = only(runtime, "ENTRYPOINT")[0]!.json!;
  const bin = join(rootfs, entry.at(-1)!);
  const workdir = only(runtime, "WORKDIR").pop()?.args ?? "/";
  const run = (args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], {
      cwd: join(rootfs, workdir),
      encoding: "utf8",
      env: { PATH: process.env["PATH"] ?? "", NODE_ENV: "production" },
    });

  const help = run(["--help"]);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /render/);

  const render = run([
    "render",
    "--objects",
    join(REPO, "examples/cluster.yaml"),
    "--config",
    join(REPO, "examples/config.yaml"),
    "--node",
    "node-a",
  ]);
  assert.equal(render.status, 0, render.stderr);
  assert.match(render.stdout, /^router bgp 64512$/m);
  assert.match(render.stdout, /^ {2}network 10\.96\.10\.10\/32$/m);

  // Exit 2 (bad config) comes after the `run` command's whole module graph has loaded.
  const missing = run(["run", "--config", "/nonexistent/config.yaml"]);
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /cannot read the file/);
});

// ---- helpers ------------------------------------------------------------------------------------

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

/** Image path → where it came from (`context:…`, `build:…`, `node-bundle:…`), from the runtime COPYs. */
function imageFiles(): Map<string, string> {
  const files = new Map<string, string>();
  forEachRuntimeCopy((source, imagePath) => files.set(imagePath, source));
  return files;
}

function forEachRuntimeCopy(visit: (source: string, imagePath: string) => void): void {
  let workdir = "/";
  for (const ins of runtime.instructions) {
    if (ins.keyword === "WORKDIR") workdir = posix.resolve(workdir, ins.args);
    if (ins.keyword !== "COPY") continue;
    const { sources, dest } = copyPaths(ins);
    const target = posix.resolve(workdir, dest);
    const intoDir = dest.endsWith("/") || sources.length > 1;
    const from = ins.flags.get("from") ?? "context";
    for (const src of sources) {
      // Docker copies a directory's contents to the destination (src ending in / is a directory
      // for sure), a file to dest or into dest/.
      const contents = src.endsWith("/");
      visit(`${from}:${src}`, intoDir && !contents ? posix.join(target, posix.basename(src)) : target);
    }
  }
}

function assembleRuntime(): void {
  forEachRuntimeCopy((source, imagePath) => {
    const [from, path = ""] = source.split(/:(.*)/s);
    const dest = join(rootfs, imagePath);
    let src: string;
    if (from === "context") src = join(REPO, path);
    else if (from === "build" && path.startsWith("/out/")) src = join(buildOut, path.slice("/out/".length));
    else if (from === "build" && path.startsWith("/opt/node/"))
      return; // Node itself: this test runs on process.execPath.
    else throw new Error(`unknown COPY source ${source}`);
    assert.ok(existsSync(src), `COPY ${source}: ${src} was not produced`);
    mkdirSync(dirname(dest), { recursive: true });
    // The build context holds only what .dockerignore lets through.
    const inContext = (p: string) => from !== "context" || !isIgnored(relative(REPO, p));
    cpSync(src, dest, { recursive: true, filter: inContext });
  });
}
