// frr-advertiser benchmark in the netns lab (node FRR + tor FRR + fake Kubernetes API + the real
// sidecar). See bench/README.md for what each figure means.
//
//   node --import tsx bench/run-bench.ts [--sizes 1000,10000] [--changes 100] [--out bench-results/latest.json]
//   node --import tsx bench/run-bench.ts --frr image …   # the node's FRR and the sidecar from the image
//
// Needs root, FRR 8.4 (frr, frr-pythontools) and iproute2, like the e2e tests; --frr image also
// podman, curl and the image (`npm run image`), like `npm run test:e2e:image`.

import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, hostname, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { parse as parseYaml, stringify } from "yaml";
// Types only: the lab's modules are imported below, once --frr is known (see "lab modules").
import type { LogLine, SidecarLab, SidecarProcess } from "../tests/e2e/harness.js";
import type { Lab } from "../tests/lab/netns-lab.js";
import type { DebounceReloadResult } from "./lib/debounce-reload.js";
import type { SeedResult } from "./lib/seed.js";
import { imageNodeLaunch, type ImageNodeLaunch } from "./lib/image-node-flags.js";
import { sampleProc } from "./lib/proc.js";
import { fmt, label, spreadText } from "./lib/format.js";
import { median, round, rng, summarize, type Summary } from "./lib/stats.js";
import {
  ChangeTracker,
  FibMonitor,
  fibSettledAt,
  TorBgp,
  wallNow,
  watchFibCount,
  type Change,
} from "./lib/tor-observer.js";
import { CallCounter, type CallCounts } from "./lib/wrappers.js";
import type { ImageInfo } from "./lib/image-sidecar.js";
import type {
  AppliedSplit,
  AttributesResult,
  BenchReport,
  ChangeResult,
  Check,
  DrainResult,
  FloorResult,
  HeapSample,
  IdleResult,
  LatencySet,
  LoadResult,
  MemFigures,
  MemSample,
  RestartsResult,
  RestartWithAttributes,
  SeedRow,
  SizeResult,
  SoakResult,
  SoakSample,
  Spread,
  SyncResult,
} from "./lib/results.js";
import { meets, TARGET_FIGURES, TARGETS } from "./lib/targets.js";

// Measured floors (docs/frr-measurements.md, FRR 8.4.4, same lab): a `network` line through an open vty
// session reaches the peer's BGP table in ≈ 50 ms and its FIB in ≈ 111 ms, flat up to 10k prefixes.
const FLOOR_WIRE_MS = 50;
const FLOOR_FIB_MS = 111;

// ------------------------------------------------------------------------------------------ options

interface Options {
  /** Whose FRR the node side runs, and whose sidecar: the host's, or the image's (both). */
  readonly frr: "host" | "image";
  readonly sizes: number[];
  readonly flips: number;
  readonly rate: number;
  readonly loadSeconds: number;
  readonly idleSeconds: number;
  readonly out: string;
  readonly runtime: "bundle" | "tsx";
  readonly batchWindowMs: number;
  readonly logLevel: string;
  readonly seed: boolean;
  readonly seedSample: number;
  readonly seedFull: boolean;
  readonly cpuProf: string | undefined;
  readonly nodeFlags: string[];
  readonly randomSeed: number;
  readonly logsDir: string;
  readonly mainJs: string | undefined;
  readonly soakMinutes: number;
  readonly soakRate: number;
  readonly attributeServices: number;
  /** Warm restarts after the first one, each after a drain: the start-up figures are their median. */
  readonly restarts: number;
  readonly attributeSets: number;
  /** The "FRR alone" phase per size (--no-floor: off). */
  readonly floor: boolean;
  /** advertise.localRoutes of the sidecar: service IPs as kernel local routes (ADR 0021). */
  readonly localRoutes: boolean;
}

const USAGE = `usage: node --import tsx bench/run-bench.ts [options]
  --sizes 1000,10000      numbers of Services (each: one clusterIP, one ready endpoint slice)
  --changes 100           sequential readiness flips (ready→unready→ready); each gives one
                          withdrawal and one announcement sample
  --rate 100              changes per second in the load phase
  --load-seconds 20       duration of the load phase (2,000 changes at 100/s: the p99 is then
                          the 20th-slowest change, not one stall)
  --idle-seconds 10       idle window (resync every 1 s) for the reconcile-cost figure
  --out FILE              JSON results (default bench-results/latest.json)
  --frr host|image        host (default): the node's FRR is the host's (8.4) and the sidecar runs
                          on the host (--runtime); image: the node's FRR daemons, vtysh and
                          frr-reload.py AND the sidecar come from the image (FA_IMAGE, default
                          localhost/frr-advertiser:dev; FRR 10.3): the sidecar is the image's
                          own bundle with its ENTRYPOINT's node flags, in a container in the
                          node's namespace; the baselines use the image's vtysh / frr-reload.py.
                          The tor stays the host's FRR. Not with --runtime tsx, --main-js,
                          --cpu-prof or --node-flags (they change the sidecar; the image's is
                          measured as it ships). Needs podman and the image (npm run image)
  --runtime bundle|tsx    bundle (default): build the sidecar with image/bundle.ts, the image's
                          own bundling, and run it with plain node as the image does; tsx: run
                          the sources through tsx (the e2e harness's way; adds the transpiler's
                          memory and start-up time)
  --batch-window-ms 50    timings.batchWindowMs of the sidecar (50 = the product default)
  --log-level info        log.level of the sidecar
  --no-seed               skip the baselines (the seed's vtysh per prefix; 3 s debounce + frr-reload.py)
  --seed-sample 1000      prefixes the seed baseline announces (larger sizes are extrapolated)
  --seed-full             run the seed baseline for every size (10k takes ~5 min)
  --no-floor              skip the "FRR alone" phase: per size, after the sidecar's last drain,
                          N network lines in one batch, then --changes flips (no network /
                          network) over one kept-open vty connection to the node's bgpd, timed
                          like the sequential phase: the measured floor of "ours / FRR alone"
  --restarts 4            warm restarts after the first one, each after the previous sidecar's
                          drain: "process start → 'starting'" and "restart → all in FIB" are
                          checked as the median of all of them (one start is one noisy sample)
  --cpu-prof DIR          run the sidecar with --cpu-prof, profiles into DIR
  --node-flags "…"        node flags for the sidecar on top of the image's own (its Dockerfile
                          ENTRYPOINT's), e.g. "--max-old-space-size=128"
                          or "--heap-prof --heap-prof-dir=DIR" (bundle runtime only)
  --random-seed 1         PRNG seed for picking services
  --logs DIR              where the sidecar's log lines are kept, one file per run (default: a new
                          directory under the system's temp dir, printed at the end)
  --main-js FILE          run this bundle (or compiled main.js) instead of bundling the working
                          tree (e.g. a build of another commit, for before/after comparisons)
  --soak-minutes 0        after the load phase of the largest size: this many minutes of changes
                          at --soak-rate; RSS at the end must be within 10 % of the start (0 = off;
                          the issue's soak is 30 minutes at 10/s)
  --soak-rate 10          changes per second during the soak
  --attribute-services 1000, --attribute-sets 200
                          the attributes phase: this many Services get communities from this many
                          distinct sets; then readiness flips of them, and new Services each with
                          a set FRR does not run yet (0 services = phase off)
  --local-routes          advertise.localRoutes: the sidecar keeps service IPs as kernel local
                          routes instead of addresses on lo (ADR 0021)`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      sizes: { type: "string", default: "1000,10000" },
      changes: { type: "string", default: "100" },
      rate: { type: "string", default: "100" },
      "load-seconds": { type: "string", default: "20" },
      "idle-seconds": { type: "string", default: "10" },
      out: { type: "string", default: "bench-results/latest.json" },
      frr: { type: "string", default: "host" },
      // No default: --frr image rejects an explicit --runtime tsx (checked below).
      runtime: { type: "string" },
      "batch-window-ms": { type: "string", default: "50" },
      "log-level": { type: "string", default: "info" },
      "no-seed": { type: "boolean", default: false },
      "seed-sample": { type: "string", default: "1000" },
      "seed-full": { type: "boolean", default: false },
      "cpu-prof": { type: "string" },
      "node-flags": { type: "string", default: "" },
      "random-seed": { type: "string", default: "1" },
      logs: { type: "string" },
      "main-js": { type: "string" },
      "soak-minutes": { type: "string", default: "0" },
      "soak-rate": { type: "string", default: "10" },
      "attribute-services": { type: "string", default: "1000" },
      "attribute-sets": { type: "string", default: "200" },
      "no-floor": { type: "boolean", default: false },
      restarts: { type: "string", default: "4" },
      "local-routes": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${v}`);
    return n;
  };
  const runtime = values.runtime ?? "bundle";
  if (runtime !== "bundle" && runtime !== "tsx") throw new Error("--runtime must be bundle or tsx");
  if (values.frr !== "host" && values.frr !== "image") throw new Error("--frr must be host or image");
  if (values.frr === "image") {
    // These change which sidecar runs or how; --frr image measures the image's as it ships.
    const conflicting = [
      runtime === "tsx" ? "--runtime tsx" : undefined,
      values["main-js"] === undefined ? undefined : "--main-js",
      values["cpu-prof"] === undefined ? undefined : "--cpu-prof",
      values["node-flags"].trim() === "" ? undefined : "--node-flags",
    ].filter((o) => o !== undefined);
    if (conflicting.length > 0)
      throw new Error(
        `--frr image runs the image's own sidecar (its bundle, its ENTRYPOINT's node flags): ${conflicting.join(", ")} ${conflicting.length === 1 ? "does" : "do"} not apply to it`,
      );
  }
  return {
    frr: values.frr,
    sizes: values.sizes.split(",").map((s) => int("sizes", s.trim(), 10)),
    flips: int("changes", values.changes, 1),
    rate: int("rate", values.rate, 1),
    loadSeconds: int("load-seconds", values["load-seconds"], 1),
    idleSeconds: int("idle-seconds", values["idle-seconds"], 2),
    out: resolve(values.out),
    runtime,
    batchWindowMs: int("batch-window-ms", values["batch-window-ms"], 0),
    logLevel: values["log-level"],
    seed: !values["no-seed"],
    seedSample: int("seed-sample", values["seed-sample"], 10),
    seedFull: values["seed-full"],
    cpuProf: values["cpu-prof"] === undefined ? undefined : resolve(values["cpu-prof"]),
    nodeFlags: values["node-flags"].split(" ").filter(Boolean),
    randomSeed: int("random-seed", values["random-seed"], 0),
    logsDir: resolve(values.logs ?? join(tmpdir(), `frr-advertiser-bench-logs-${Date.now()}`)),
    mainJs: values["main-js"] === undefined ? undefined : resolve(values["main-js"]),
    soakMinutes: int("soak-minutes", values["soak-minutes"], 0),
    soakRate: int("soak-rate", values["soak-rate"], 1),
    attributeServices: int("attribute-services", values["attribute-services"], 0),
    attributeSets: int("attribute-sets", values["attribute-sets"], 1),
    floor: !values["no-floor"],
    restarts: int("restarts", values.restarts, 0),
    localRoutes: values["local-routes"],
  };
}

// ------------------------------------------------------------------------------------------ lab modules

// tests/lab/image-frr.ts decides, when it is evaluated, whether the lab's node side runs the host's
// FRR or the image's (it reads FA_LAB_FRR at import time), and the harness, the lab and the
// baselines all import it. Static imports are evaluated before any statement of this file, so
// those modules are imported here, dynamically, once --frr is parsed and FA_LAB_FRR is set from
// it: one process (no re-exec), one switch (no second npm script), and a FA_LAB_FRR left in the
// environment cannot contradict --frr.
const OPTS = parseOptions(process.argv.slice(2));
if (OPTS.frr === "image") process.env["FA_LAB_FRR"] = "image";
else Reflect.deleteProperty(process.env, "FA_LAB_FRR");
const harness = await import("../tests/e2e/harness.js");
const { createSidecarLab, NODE, REPO, service, slice } = harness;
const { LAB_FRR_IMAGE } = await import("../tests/lab/image-frr.js");
const { runSeedBaseline, serviceIp } = await import("./lib/seed.js");
const { DEBOUNCE_MS, runDebounceReloadBaseline } = await import("./lib/debounce-reload.js");
const { runFrrFloor } = await import("./lib/frr-floor.js");
const imageSidecar = OPTS.frr === "image" ? await import("./lib/image-sidecar.js") : undefined;
if ((LAB_FRR_IMAGE !== undefined) !== (OPTS.frr === "image"))
  throw new Error("tests/lab/image-frr.ts was evaluated before FA_LAB_FRR was set");

// ------------------------------------------------------------------------------------------ results

async function sampleMem(r: Running): Promise<MemSample> {
  const proc = sampleProc(r.hostPid);
  let heap: HeapSample = {
    heapUsedMb: undefined,
    heapTotalMb: undefined,
    externalMb: undefined,
    spacesMb: {},
  };
  try {
    // In image mode the harness fetches through `ip netns exec NODE curl` (its server listens in
    // the node's namespace).
    const { body } = await r.s.get("/metrics");
    const metric = (name: string): number | undefined => {
      const bytes = metricValue(body, name);
      return bytes === undefined ? undefined : round(bytes / 2 ** 20, 1);
    };
    heap = {
      heapUsedMb: metric("nodejs_heap_size_used_bytes"),
      heapTotalMb: metric("nodejs_heap_size_total_bytes"),
      externalMb: metric("nodejs_external_memory_bytes"),
      spacesMb: Object.fromEntries(
        [...body.matchAll(/^frr_advertiser_nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)/gm)].map(
          (m) => [m[1] ?? "", round(Number(m[2]) / 2 ** 20, 1)],
        ),
      ),
    };
  } catch {
    /* metrics unavailable: RSS only */
  }
  return {
    ...proc,
    ...heap,
    rssMb: round(proc.rssMb, 1),
    hwmMb: round(proc.hwmMb, 1),
    rssAnonMb: round(proc.rssAnonMb, 1),
    schedCpuMs: round(proc.schedCpuMs, 1),
  };
}

/** The first sample of frr_advertiser_`name` (any labels) in a /metrics body. */
function metricValue(body: string, name: string): number | undefined {
  const m = new RegExp(`^frr_advertiser_${name}(?:\\{[^}]*\\})? (\\S+)`, "m").exec(body);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** The sidecar's memory trims so far and their summed duration (/metrics); undefined: no metrics. */
async function trimStats(r: Running): Promise<{ count: number; seconds: number } | undefined> {
  try {
    const { body } = await r.s.get("/metrics");
    const count = metricValue(body, "memory_trims_total");
    const seconds = metricValue(body, "memory_trim_duration_seconds_sum");
    return count === undefined ? undefined : { count, seconds: seconds ?? 0 };
  } catch {
    return undefined;
  }
}

/** The sidecar's trim count now: read when a phase's last change has been made. */
async function trimsSoFar(r: Running): Promise<number | undefined> {
  return (await trimStats(r))?.count;
}

/**
 * Waits for the sidecar's first memory trim after `before` (trimsSoFar, read when the phase's
 * last change was made: the trim comes timings.memoryTrimSeconds after the last apply, ADR 0015,
 * and one that ran earlier was followed by an apply that arms the next) and samples memory then.
 * Measuring memory once the process has given back what the work before it freed, and keeping
 * the trim's own collection out of the CPU windows that follow (quiet, idle). Undefined trimMs:
 * none came within the wait (trim off).
 */
async function sampleMemTrimmed(
  r: Running,
  before: number | undefined,
  waitMs = 15_000,
): Promise<{ mem: MemSample; trimMs?: number }> {
  const began = performance.now();
  if (before !== undefined) {
    while (performance.now() - began < waitMs) {
      await sleep(250);
      const now = (await trimStats(r))?.count;
      if (now !== undefined && now > before) {
        await sleep(100);
        return { mem: await sampleMem(r), trimMs: round(performance.now() - began) };
      }
    }
  }
  return { mem: await sampleMem(r) };
}

// ------------------------------------------------------------------------------------------ the run

const log = (s: string): void => {
  console.log(`[${new Date().toISOString().slice(11, 23)}] ${s}`);
};

interface Ctx {
  readonly opts: Options;
  readonly tmp: string;
  readonly counter: CallCounter;
  /**
   * bundle runtime: the bundled sidecar, and how it is started (as the image's ENTRYPOINT, its
   * compile cache under tmp).
   */
  readonly bundle: { readonly mainJs: string; readonly launch: ImageNodeLaunch } | undefined;
  /** --frr image: the image whose FRR and sidecar run. */
  readonly image: ImageInfo | undefined;
}

async function main(): Promise<void> {
  const opts = OPTS;
  if (process.getuid?.() !== 0) throw new Error("the benchmark needs root (network namespaces, FRR)");
  const tmp = await mkdtemp(join(tmpdir(), "fa-bench-"));
  try {
    const binDir = join(tmp, "bin");
    await mkdir(binDir);
    const image =
      imageSidecar === undefined || LAB_FRR_IMAGE === undefined
        ? undefined
        : await imageSidecar.imageInfo(LAB_FRR_IMAGE);
    // In image mode the wrappers run in the sidecar's container: they call the image's programs.
    const counter = new CallCounter(
      binDir,
      image === undefined ? undefined : { ...image.programs, reloadScript: image.reloadScript },
    );
    const mainJs =
      image !== undefined
        ? undefined
        : (opts.mainJs ?? (opts.runtime === "bundle" ? await buildSidecar(tmp) : undefined));
    if (opts.cpuProf !== undefined) await mkdir(opts.cpuProf, { recursive: true });
    await mkdir(opts.logsDir, { recursive: true });
    const bundle = mainJs === undefined ? undefined : { mainJs, launch: await hostLaunch(mainJs, tmp) };
    const ctx: Ctx = { opts, tmp, counter, bundle, image };
    const meta = await environment(opts, image);
    log(
      `frr-advertiser benchmark: sizes ${opts.sizes.join(", ")}, node FRR ${meta.frr} (${meta.frrFrom}), sidecar ${meta.sidecar}, ${meta.cpus} CPUs, load ${meta.loadavg.join(" ")}`,
    );
    const sizes: SizeResult[] = [];
    for (const n of opts.sizes) sizes.push(await benchSize(ctx, n));
    const seed = opts.seed ? await seedBaselines(opts) : [];
    const debounced = opts.seed ? await debounceBaselines(opts) : [];
    // Typed as what bench:readme reads back; the meta holds more than readers need.
    const fullMeta = { ...meta, loadavgAfter: loadavg().map((x) => round(x, 2)) };
    const report: BenchReport = {
      meta: fullMeta,
      floors: { wireMs: FLOOR_WIRE_MS, fibMs: FLOOR_FIB_MS },
      targets: TARGETS,
      sizes,
      seed,
      debounced,
      checks: checks(sizes),
    };
    await mkdir(dirname(opts.out), { recursive: true });
    await writeFile(opts.out, `${JSON.stringify(report, null, 2)}\n`);
    const what = `node FRR ${meta.frr} (${meta.frrFrom}), tor FRR ${meta.torFrr} (host); sidecar: ${meta.sidecar}.`;
    console.log(`\n${table(report.sizes, seed, debounced, report.checks, what)}`);
    console.log(`\nJSON: ${opts.out}\nsidecar logs: ${opts.logsDir}`);
    // Performance targets are reported; a broken drain or a figure that was never measured is a
    // failure of the product or of the bench, and fails the run.
    const broken = report.checks.filter((c) => c.correctness && !c.pass);
    if (broken.length > 0) {
      console.log(`\nFAILED: ${broken.length} correctness check(s): ${broken.map((c) => c.what).join("; ")}`);
      process.exitCode = 1;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function environment(opts: Options, image: ImageInfo | undefined) {
  const dpkg = await execa("dpkg-query", ["-W", "-f", "${Version}", "frr"], { reject: false });
  const hostFrr = dpkg.exitCode === 0 ? dpkg.stdout.trim() : "?";
  const label = (k: string): string => image?.labels[`org.opencontainers.image.${k}`] ?? "?";
  return {
    date: new Date().toISOString(),
    host: hostname(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "?",
    loadavg: loadavg().map((x) => round(x, 2)),
    // The bench's own Node; the image's sidecar runs the image's (imageNode).
    node: process.version,
    /** The node side's FRR: the host's package version, or the release the image's vtysh reports. */
    frr: image === undefined ? hostFrr : image.frr,
    frrFrom: image === undefined ? "host (dpkg frr)" : `image ${image.ref} (vtysh --help)`,
    /** The tor always runs the host's FRR. */
    torFrr: hostFrr,
    ...(image === undefined
      ? {}
      : { imageNode: image.labels["io.frr-advertiser.node-version"] ?? "?", imageId: image.id }),
    runtime: image === undefined ? opts.runtime : "image (its bundle, its ENTRYPOINT's node flags)",
    sidecar:
      image === undefined
        ? (opts.mainJs ?? "working tree (compiled)")
        : `image ${image.ref} (id ${image.id.slice(0, 12)})`,
    commit:
      image !== undefined
        ? `image revision ${label("revision")} (created ${label("created")})`
        : opts.mainJs === undefined
          ? await gitDescribe()
          : "prebuilt (see sidecar)",
    options: { ...opts, out: undefined },
    note: "shared, noisy machine: figures are medians/p99 of one run each; compare ratios, not single numbers",
  };
}

async function gitDescribe(): Promise<string> {
  const head = await execa("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, reject: false });
  const dirty = await execa("git", ["status", "--porcelain", "sidecar", "frr-templates"], {
    cwd: REPO,
    reject: false,
  });
  const changed = dirty.stdout.split("\n").filter(Boolean).length;
  return `${head.stdout.trim()}${changed > 0 ? ` + ${changed} uncommitted file(s) in sidecar/ frr-templates/` : ""}`;
}

/** Compiles the sidecar (tsconfig.build.json) into tmp, resolvable against the repo's node_modules. */
async function buildSidecar(tmp: string): Promise<string> {
  const out = join(tmp, "build", "frr-advertiser.mjs");
  log("bundling the sidecar (image/bundle.ts, as the image is built)");
  await execa(process.execPath, [join(REPO, "image/bundle.ts"), out], { cwd: REPO });
  return out;
}

/**
 * The image's ENTRYPOINT for the bundle on the host. Its compile cache (/app/compile-cache in the
 * image) goes under tmp, made as the Dockerfile makes it: the same command up to its config check.
 */
async function hostLaunch(mainJs: string, tmp: string): Promise<ImageNodeLaunch> {
  const launch = imageNodeLaunch(REPO);
  if (launch.env["NODE_COMPILE_CACHE"] === undefined) return launch;
  const env = { ...launch.env, NODE_COMPILE_CACHE: join(tmp, "compile-cache") };
  const warm = await execa(
    process.execPath,
    [...launch.flags, mainJs, "run", "--config", "/nonexistent/config.yaml"],
    { env: { ...process.env, ...env }, reject: false },
  );
  if (warm.exitCode !== 2) throw new Error(`compile cache warm-up exited ${warm.exitCode}: ${warm.stderr}`);
  return { ...launch, env };
}

function startSidecar(ctx: Ctx, env: SidecarLab): SidecarProcess {
  if (ctx.image !== undefined) {
    // The image's sidecar in its container (the harness's startInImage): the wrappers' directory
    // (its calls.log too) mounted at the same path, first on the image's PATH; frr.vtysh and
    // frr.reloadScript point into it (benchSize).
    const bin = ctx.counter.binDir;
    return env.start({ containerArgs: ["-v", `${bin}:${bin}`, "-e", `PATH=${bin}:${ctx.image.path}`] });
  }
  const PATH = `${ctx.counter.binDir}:${process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"}`;
  const prof = ctx.opts.cpuProf === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${ctx.opts.cpuProf}`];
  if (ctx.bundle === undefined) {
    // The harness copies process.env at spawn time: lend it our PATH / NODE_OPTIONS for that moment.
    const saved = { PATH: process.env["PATH"], NODE_OPTIONS: process.env["NODE_OPTIONS"] };
    process.env["PATH"] = PATH;
    if (prof.length > 0) process.env["NODE_OPTIONS"] = [saved.NODE_OPTIONS ?? "", ...prof].join(" ").trim();
    try {
      return env.start();
    } finally {
      restoreEnv("PATH", saved.PATH);
      restoreEnv("NODE_OPTIONS", saved.NODE_OPTIONS);
    }
  }
  // As the image's ENTRYPOINT starts it: its environment for node (glibc's allocator, the compile
  // cache) and flags.
  const { mainJs, launch } = ctx.bundle;
  const child = spawn(
    process.execPath,
    [...prof, ...launch.flags, ...ctx.opts.nodeFlags, mainJs, "run", "--config", env.configPath],
    {
      cwd: REPO,
      env: {
        ...process.env,
        ...launch.env,
        PATH,
        KUBECONFIG: env.kubeconfig,
        NODE_NAME: NODE,
        KUBERNETES_SERVICE_HOST: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  env.sidecar = new harness.SidecarProcess(child);
  return env.sidecar;
}

/** A started sidecar, and where its process is. */
interface Running {
  readonly s: SidecarProcess;
  /** The node process's PID on the host: /proc sampling. */
  readonly hostPid: number;
  /** Its PID as its children see it, the $PPID the wrappers log (image: the container's namespace). */
  readonly ownPid: number;
  /** Wall-clock ms of the process start: the spawn (host); the container's start (image). */
  readonly startedAt: number;
  /** image: spawn of `podman run` → the container's start. */
  readonly containerStartMs: number | undefined;
  /** Sends a signal as the kubelet would: to the process, or the container's PID 1 (tini forwards). */
  signal(sig: NodeJS.Signals): void;
  /** When the process has exited (wall-clock ms), its exit code or the signal that ended it. */
  exited(): Promise<{ at: number; code: number | null; signal: string | null }>;
}

/** The sidecar's process (in image mode: the node process inside its container, once it runs). */
async function locate(s: SidecarProcess, spawnedAt: number): Promise<Running> {
  if (s.container === undefined || imageSidecar === undefined) {
    const pid = s.child.pid ?? -1;
    return {
      s,
      hostPid: pid,
      ownPid: pid,
      startedAt: spawnedAt,
      containerStartMs: undefined,
      signal: (sig) => {
        s.signal(sig);
      },
      exited: () => s.waitForExit().then((code) => ({ code, signal: s.child.signalCode, at: wallNow() })),
    };
  }
  const img = imageSidecar;
  const p = await img.containerProcess(s.container.name);
  return {
    s,
    hostPid: p.hostPid,
    ownPid: p.nsPid,
    startedAt: p.startedAt,
    containerStartMs: round(p.startedAt - spawnedAt),
    // Straight to tini's host PID, as the kubelet's SIGTERM reaches PID 1: the harness's signal()
    // runs `podman kill` synchronously, which would add a podman process's start-up (and a blocked
    // event loop) to the drain figures.
    signal: (sig) => {
      try {
        process.kill(p.initPid, sig);
      } catch {
        /* already gone */
      }
    },
    // The node process's end, not podman's: the client exits only after removing the container.
    exited: async () => {
      await img.waitGone(p.hostPid);
      const at = wallNow();
      const code = await s.waitForExit();
      return { at, code, signal: code === null ? img.signalOfExitCode(s.child.exitCode) : null };
    },
  };
}

function restoreEnv(key: "PATH" | "NODE_OPTIONS", value: string | undefined): void {
  if (value === undefined) Reflect.deleteProperty(process.env, key);
  else process.env[key] = value;
}

async function patchConfig(
  env: SidecarLab,
  patch: (c: Record<string, Record<string, unknown>>) => void,
): Promise<void> {
  const c = parseYaml(await readFile(env.configPath, "utf8")) as Record<string, Record<string, unknown>>;
  patch(c);
  await writeFile(env.configPath, stringify(c));
}

const svcName = (i: number): string => `svc-${String(i).padStart(5, "0")}`;
const prefixOf = (i: number): string => `${serviceIp(i)}/32`;

async function benchSize(ctx: Ctx, n: number): Promise<SizeResult> {
  const { opts, counter } = ctx;
  log(`=== N = ${n} services ===`);
  const objects = [];
  for (let i = 0; i < n; i++) {
    objects.push(service(svcName(i), { clusterIPs: [serviceIp(i)] }), slice(svcName(i), [{ ready: true }]));
  }
  const timings = (resync: number) => ({
    batchWindowMs: opts.batchWindowMs,
    resyncIntervalSeconds: resync,
    reloadTimeoutSeconds: 120,
    shutdownTimeoutSeconds: 60,
    driftCheckIntervalSeconds: 300,
    withdrawGraceMs: 1000,
    frrPollIntervalMs: 500,
  });
  const env = await createSidecarLab({
    objects,
    localRoutes: opts.localRoutes,
    config: {
      log: { level: opts.logLevel },
      timings: timings(60),
      // The drain figures time the withdrawal itself (the graceful wait adds its waitSeconds by
      // design), and the bench flips Services on purpose: flap damping would hold some back.
      safety: { gracefulShutdown: { enabled: false }, flapDamping: { enabled: false } },
    },
  });
  const fib = new FibMonitor(env.lab.torNs);
  const bgp = new TorBgp(env.lab.torNs);
  const wanted = new Set(Array.from({ length: n }, (_, i) => prefixOf(i)));
  const calls: Record<string, CallCounts> = {};
  let mark = counter.lines().length;
  const phase = (name: string, pid: number): CallCounts => {
    const lines = counter.lines();
    const c = counter.count(pid, lines.slice(mark));
    calls[name] = c;
    mark = lines.length;
    const t = Object.entries(c.time).map(([k, v]) => `${k} ${v.count}× Σ${v.totalMs}/max ${v.maxMs} ms`);
    if (t.length > 0) log(`  [${name}] external processes: ${t.join(", ")}`);
    return c;
  };
  try {
    await patchConfig(env, (c) => {
      const frr: Record<string, unknown> = {
        ...c["frr"],
        vtysh: counter.vtysh,
        reloadScript: counter.reloadScript,
      };
      // The image's sidecar renders with the image's templates (the default, relative to its
      // WORKDIR /app), as it ships, not with the working tree's the harness points at.
      if (ctx.image !== undefined) delete frr["templateDir"];
      c["frr"] = frr;
    });
    fib.start();
    await sleep(200);

    // 1. initial sync, cold: node FRR runs no BGP yet; the first apply brings the session up.
    log("initial sync (cold: node FRR without BGP config)");
    const { sync: syncCold, sidecar: s1 } = await measureSync(ctx, env, fib, bgp, wanted, true);
    // The wrappers log PIDs as the sidecar's children see them (a container's own in image mode);
    // /proc wants the host's.
    const pid1 = s1.ownPid;
    phase("syncCold", pid1);
    log(
      `  wire all ${syncCold.wireAllMs} ms, FIB all ${syncCold.fibAllMs} ms (session ${syncCold.sessionMs} ms, applied ${syncCold.appliedMs} ms)`,
    );
    const trimsAfterSync = await trimsSoFar(s1);
    await sleep(3000);
    const procAfterSync = await sampleMem(s1);
    log(
      `  RSS ${procAfterSync.rssMb} MB (peak ${procAfterSync.hwmMb}, JS heap used ${procAfterSync.heapUsedMb} of ${procAfterSync.heapTotalMb}), CPU ${procAfterSync.cpuMs} ms + children ${procAfterSync.childCpuMs} ms`,
    );
    const afterSyncTrim = await sampleMemTrimmed(s1, trimsAfterSync);
    const procAfterSyncTrimmed = afterSyncTrim.mem;
    log(`  ${trimmedText(afterSyncTrim)}`);

    // Background CPU over an idle window without resyncs (interval 60 s; we are < 60 s in).
    phase("settle", pid1);
    const b0 = sampleProc(s1.hostPid);
    await sleep(opts.idleSeconds * 1000);
    const b1 = sampleProc(s1.hostPid);
    phase("quiet", pid1);
    const baselineCpuMs = b1.schedCpuMs - b0.schedCpuMs;
    log(`  quiet window: ${round(baselineCpuMs)} ms CPU in ${opts.idleSeconds} s`);

    // 2a. sequential flips (the session has been up for seconds: past the update-group coalesce).
    await env.lab.waitForSession(10_000);
    const random = rng(opts.randomSeed + n);
    log(`sequential: ${opts.flips} flips (ready→unready→ready)`);
    const sequential = await runSequential(fib, bgp, env, n, opts.flips, random);
    phase("sequential", pid1);
    log(
      `  FIB p50/p99 ${sequential.all.fib.p50}/${sequential.all.fib.p99} ms, wire ${sequential.all.wire.p50}/${sequential.all.wire.p99} ms`,
    );
    for (const kind of ["withdraw", "announce"] as const) {
      const x = sequential.split?.[kind];
      if (x !== undefined)
        log(
          `  ${kind}: → sidecar applied p50/p99 ${x.toApplied.p50}/${x.toApplied.p99} ms, applied → wire ${x.appliedToWire.p50}/${x.appliedToWire.p99} ms`,
        );
    }

    // 2b. load: rate changes/s for loadSeconds.
    log(`load: ${opts.rate} changes/s for ${opts.loadSeconds} s`);
    const load = await runLoad(fib, bgp, env, s1.s, n, opts, random);
    phase("load", pid1);
    log(
      `  achieved ${load.achievedRate}/s; FIB p50/p99 ${load.all.fib.p50}/${load.all.fib.p99} ms, wire ${load.all.wire.p50}/${load.all.wire.p99} ms; ${load.applies} applies`,
    );
    const trimsAfterChurn = await trimsSoFar(s1);
    await sleep(2000);
    const procAfterChurn = await sampleMem(s1);
    log(
      `  RSS after churn ${procAfterChurn.rssMb} MB (peak ${procAfterChurn.hwmMb}, JS heap used ${procAfterChurn.heapUsedMb} of ${procAfterChurn.heapTotalMb})`,
    );
    const afterChurnTrim = await sampleMemTrimmed(s1, trimsAfterChurn);
    const procAfterChurnTrimmed = afterChurnTrim.mem;
    log(`  ${trimmedText(afterChurnTrim)}`);
    const soak =
      opts.soakMinutes > 0 && n === Math.max(...opts.sizes)
        ? await runSoak(fib, bgp, env, s1, n, opts, random)
        : undefined;

    // 5. drain
    log("drain (SIGTERM)");
    const drain = await measureDrain(s1, fib, bgp, wanted, env.lab);
    phase("drain", pid1);
    await keepLogs(ctx, n, s1.s);
    log(
      `  wire none ${drain.wireNoneMs} ms, FIB none ${drain.fibNoneMs} ms, exit ${drain.exitMs} ms (code ${drain.exitCode}, ${drain.leftAtTor} left at the tor)`,
    );

    // 1'. restart with the session up, resync every second for the idle figure.
    await patchConfig(env, (c) => {
      c["timings"] = timings(1);
    });
    await sleep(1000);
    log("initial sync (warm: sidecar restart, BGP session already up)");
    let warm = await measureSync(ctx, env, fib, bgp, wanted, false);
    phase("syncWarm", warm.sidecar.ownPid);
    const syncWarm = warm.sync;
    log(
      `  wire all ${syncWarm.wireAllMs} ms, FIB all ${syncWarm.fibAllMs} ms (applied ${syncWarm.appliedMs} ms)`,
    );
    // More restarts in the same state (the plain Services, session up), each after the previous
    // sidecar drained: one start is one sample of a figure the machine's load moves by a third.
    const samples: SyncResult[] = [syncWarm];
    const drains: DrainResult[] = [];
    for (let i = 1; i <= opts.restarts; i++) {
      const d = await measureDrain(warm.sidecar, fib, bgp, wanted, env.lab);
      phase(`drainBeforeRestart${i}`, warm.sidecar.ownPid);
      await keepLogs(ctx, n, warm.sidecar.s);
      drains.push(d);
      await sleep(1000);
      warm = await measureSync(ctx, env, fib, bgp, wanted, false);
      phase(`restart${i}`, warm.sidecar.ownPid);
      samples.push(warm.sync);
      log(
        `restart ${i}/${opts.restarts} (after a drain: FIB none ${d.fibNoneMs} ms, exit ${d.exitMs} ms): "starting" ${warm.sync.startingMs} ms, FIB all ${warm.sync.fibAllMs} ms`,
      );
    }
    const restarts: RestartsResult = {
      samples,
      drains,
      startingMs: spread(samples.map((x) => x.startingMs)),
      fibAllMs: spread(samples.map((x) => x.fibAllMs)),
    };
    log(
      `restarts (${samples.length}): "starting" median ${restarts.startingMs.median} ms (${restarts.startingMs.min}–${restarts.startingMs.max}), FIB all median ${restarts.fibAllMs.median} ms (${restarts.fibAllMs.min}–${restarts.fibAllMs.max})`,
    );
    const s2 = warm.sidecar;
    const pid2 = s2.ownPid;
    const trimsAfterWarmSync = await trimsSoFar(s2);
    await sleep(3000);
    const procAfterWarmSync = await sampleMem(s2);
    // The restart's own trim comes after its sync, not in the idle window.
    log(`  ${trimmedText(await sampleMemTrimmed(s2, trimsAfterWarmSync))}`);

    // 4. idle reconcile cost
    log(`idle: ${opts.idleSeconds} s with resync every 1 s`);
    phase("settle2", pid2);
    const i0 = sampleProc(s2.hostPid);
    await sleep(opts.idleSeconds * 1000);
    const i1 = sampleProc(s2.hostPid);
    phase("idle", pid2);
    const idleCalls = calls["idle"] ?? counter.count(pid2, []);
    const windowMs = i1.at - i0.at;
    const passes = Math.round(windowMs / 1000);
    const raw = (i1.schedCpuMs - i0.schedCpuMs) / passes;
    const idle: IdleResult = {
      windowMs: round(windowMs),
      resyncIntervalSeconds: 1,
      passes,
      cpuMsPerPassRaw: round(raw, 2),
      cpuMsPerPassNet: round(raw - (baselineCpuMs * (windowMs / (b1.at - b0.at))) / passes, 2),
      childCpuMsPerPass: round((i1.childCpuMs - i0.childCpuMs) / passes, 1),
      baselineCpuMs: round(baselineCpuMs, 1),
      frrCalls: idleCalls.vtysh - idleCalls.bgpSummary + idleCalls.reload,
      metricsPolls: idleCalls.bgpSummary,
      calls: idleCalls,
    };
    log(
      `  ${idle.cpuMsPerPassNet} ms CPU per pass (raw ${idle.cpuMsPerPassRaw}), children ${idle.childCpuMsPerPass} ms, FRR calls ${idle.frrCalls}, ip calls ${idleCalls.ip}`,
    );

    // After the restart figures: they are the plain Services' (a start with hundreds of attribute
    // sets costs bgpd more, see bench/README.md).
    const attributes =
      opts.attributeServices > 0
        ? await runAttributes({ env, fib, bgp, n, opts, random, phase, pid: pid2 })
        : undefined;

    log("drain again (warm)");
    const drainWarm = await measureDrain(s2, fib, bgp, wanted, env.lab);
    phase("drainWarm", pid2);
    log(
      `  wire none ${drainWarm.wireNoneMs} ms, FIB none ${drainWarm.fibNoneMs} ms, exit ${drainWarm.exitMs} ms (code ${drainWarm.exitCode}, ${drainWarm.leftAtTor} left at the tor)`,
    );

    // A restart with the attribute sets in place: bgpd creates their route-maps again (FRR 8.4
    // takes seconds for a few hundred, docs/frr-measurements.md); not one of the targets' samples.
    let restartWithAttributes: RestartWithAttributes | undefined;
    if (attributes !== undefined) {
      await sleep(1000);
      const r = await measureSync(ctx, env, fib, bgp, wanted, false);
      phase("restartWithAttributes", r.sidecar.ownPid);
      const d = await measureDrain(r.sidecar, fib, bgp, wanted, env.lab);
      phase("drainWithAttributes", r.sidecar.ownPid);
      await keepLogs(ctx, n, r.sidecar.s);
      restartWithAttributes = { sets: attributes.sets, sync: r.sync, drain: d };
      log(
        `restart with ${attributes.sets} attribute sets: FIB all ${r.sync.fibAllMs} ms (applied ${r.sync.appliedMs} ms); drain: FIB none ${d.fibNoneMs} ms, exit ${d.exitMs} ms`,
      );
    }

    // FRR alone: the sidecar has exited, the node's bgpd runs the drained config (neighbours,
    // session up, no network line). Same PRNG seed as the sequential phase: the same Services first.
    const floor = opts.floor ? await measureFloor(env, fib, bgp, n, opts) : undefined;
    return {
      n,
      syncCold,
      syncWarm,
      restarts,
      procAfterSync,
      procAfterSyncTrimmed,
      procAfterChurn,
      procAfterChurnTrimmed,
      procAfterWarmSync,
      sequential,
      load,
      idle,
      drain,
      drainWarm,
      calls,
      ...(soak === undefined ? {} : { soak }),
      ...(attributes === undefined ? {} : { attributes }),
      ...(restartWithAttributes === undefined ? {} : { restartWithAttributes }),
      ...(floor === undefined ? {} : { floor }),
    };
  } catch (err) {
    console.error(env.sidecar?.tail(40));
    throw err;
  } finally {
    await keepLogs(ctx, n, env.sidecar);
    fib.stop();
    bgp.close();
    await env.stop();
  }
}

async function measureFloor(
  env: SidecarLab,
  fib: FibMonitor,
  bgp: TorBgp,
  n: number,
  opts: Options,
): Promise<FloorResult> {
  log(`FRR alone: ${n} network lines, then ${opts.flips} flips over a kept-open vty connection to bgpd`);
  const prefixes = Array.from({ length: n }, (_, i) => prefixOf(i));
  const run = await runFrrFloor({
    lab: env.lab,
    fib,
    bgp,
    prefixes,
    flips: opts.flips,
    random: rng(opts.randomSeed + n),
    log,
    attributes: {
      services: opts.attributeServices,
      sets: opts.attributeSets,
      newPrefixes: Array.from({ length: NEW_SET_CHANGES }, (_, j) => prefixOf(n + j)),
    },
  });
  const r = changeResult(run.changes);
  log(`  FIB p50/p99 ${r.all.fib.p50}/${r.all.fib.p99} ms, wire ${r.all.wire.p50}/${r.all.wire.p99} ms`);
  const newSet = run.newSets === undefined ? undefined : changeResult(run.newSets);
  if (newSet !== undefined)
    log(`  new attribute set → FIB p50/p99 ${newSet.announce.fib.p50}/${newSet.announce.fib.p99} ms`);
  return {
    method: run.method,
    note: run.note,
    socket: run.socket,
    flips: opts.flips,
    ...r.all,
    withdraw: r.withdraw,
    announce: r.announce,
    load: run.load,
    clear: run.clear,
    ...(newSet === undefined ? {} : { newSet }),
  };
}

/** Every sidecar run's lines, one JSON object a line (stderr lines as {stderr}). */
async function keepLogs(ctx: Ctx, n: number, s: SidecarProcess | undefined): Promise<void> {
  const dir = ctx.opts.logsDir;
  if (s === undefined) return;
  const lines = [
    ...s.logs.map((l) => JSON.stringify(l)),
    ...s.stderr.map((e) => JSON.stringify({ stderr: e })),
  ];
  await writeFile(join(dir, `n${n}-pid${s.child.pid ?? 0}.log`), `${lines.join("\n")}\n`);
}

/** Median (nearest rank) and range; NaN (reported as not measured) when a sample is missing. */
function spread(xs: readonly (number | undefined)[]): Spread {
  const ok = xs.filter((x): x is number => x !== undefined);
  if (ok.length < xs.length || ok.length === 0) return { median: NaN, min: NaN, max: NaN };
  return { median: median(ok), min: Math.min(...ok), max: Math.max(...ok) };
}

function logTime(l: LogLine | undefined): number | undefined {
  const t = l?.["time"];
  return typeof t === "string" ? Date.parse(t) : undefined;
}

async function measureSync(
  ctx: Ctx,
  env: SidecarLab,
  fib: FibMonitor,
  bgp: TorBgp,
  wanted: ReadonlySet<string>,
  cold: boolean,
): Promise<{ sync: SyncResult; sidecar: Running }> {
  const n = wanted.size;
  const fibAll = watchFibCount(fib, wanted, (c) => c >= n);
  const spawnedAt = wallNow();
  const s = startSidecar(ctx, env);
  let sessionAt: number | undefined;
  let wireAt: number | undefined;
  const deadline = spawnedAt + 180_000;
  while (wireAt === undefined && wallNow() < deadline) {
    if (!s.alive) throw new Error(`sidecar exited during the initial sync:\n${s.tail()}`);
    const p = await bgp.peer().catch(() => undefined);
    if (p !== undefined) {
      if (sessionAt === undefined && p.state === "Established") sessionAt = wallNow();
      if (p.pfxRcd >= n) wireAt = wallNow();
    }
    if (wireAt === undefined) await sleep(10);
  }
  // The watch's time, or the tor's kernel table read if `ip monitor` lost events in the burst.
  const fibAt =
    wireAt === undefined
      ? undefined
      : await fibSettledAt({
          readFib: () => env.lab.torFibRoutes(4),
          watch: fibAll,
          wanted,
          all: true,
          deadline,
        });
  fibAll.stop();
  if (wireAt === undefined || fibAt === undefined)
    throw new Error(
      `initial sync incomplete after 180 s (${wireAt === undefined ? "the tor's BGP count" : "the tor's FIB"} short):\n${s.tail()}\n${await stallDiagnostics(env, wanted)}`,
    );
  // The pass logs "applied" only after its last step (removing stale addresses), which can come
  // after the routes reached the tor.
  const applied = await s
    .waitForLog((l) => l.msg === "applied", 120_000, "the first apply")
    .catch(() => undefined);
  const running = await locate(s, spawnedAt);
  // Figures count from the process start (image: the container's, after podman's own start-up).
  const rel = (t: number | undefined): number | undefined =>
    t === undefined ? undefined : round(t - running.startedAt);
  const sync: SyncResult = {
    ...(running.containerStartMs === undefined ? {} : { containerStartMs: running.containerStartMs }),
    startingMs: rel(logTime(s.logs.find((l) => l.msg === "starting"))),
    appliedMs: rel(logTime(applied)),
    applyDurationMs: typeof applied?.["ms"] === "number" ? applied["ms"] : undefined,
    ...(cold ? { sessionMs: rel(sessionAt) } : {}),
    wireAllMs: rel(wireAt),
    fibAllMs: rel(fibAt),
    fibFirstMs: rel(fibAll.first()),
  };
  return { sync, sidecar: running };
}

/** What FRR holds when the tor lacks prefixes: the node's counts and a missing prefix in detail. */
async function stallDiagnostics(env: SidecarLab, wanted: ReadonlySet<string>): Promise<string> {
  const out: string[] = ["--- stall diagnostics ---"];
  const run = async (side: "node" | "tor", cmd: string): Promise<string> =>
    env.lab.vtysh(side, cmd).catch((err: unknown) => `(${cmd} failed: ${String(err)})`);
  try {
    out.push(await run("node", "show bgp ipv4 unicast summary"));
    const tor = await env.lab.torRoutes(4);
    const missing = [...wanted].filter((p) => !tor.has(p));
    out.push(`tor lacks ${missing.length} of ${wanted.size}; first: ${missing.slice(0, 5).join(" ")}`);
    const running = await run("node", "show running-config");
    out.push(`network lines in the node's running config: ${[...running.matchAll(/^\s*network /gm)].length}`);
    for (const p of missing.slice(0, 2)) {
      out.push(await run("node", `show bgp ipv4 unicast ${p}`));
      out.push(await run("node", `show ip route ${p}`));
    }
    out.push(await run("node", "show bgp import-check-table"));
  } catch (err) {
    out.push(`diagnostics failed: ${String(err)}`);
  }
  return out.join("\n").slice(0, 20_000);
}

function latencies(changes: readonly Change[]): LatencySet {
  return {
    wire: summarize(
      changes.map((c) => (c.timedOut === true || c.wireAt === undefined ? undefined : c.wireAt - c.t0)),
    ),
    fib: summarize(
      changes.map((c) => (c.timedOut === true || c.fibAt === undefined ? undefined : c.fibAt - c.t0)),
    ),
  };
}

function changeResult(changes: readonly Change[]): ChangeResult {
  return {
    all: latencies(changes),
    withdraw: latencies(changes.filter((c) => !c.present)),
    announce: latencies(changes.filter((c) => c.present)),
  };
}

/**
 * Announcements are of services withdrawn at least FRESH_AFTER_MS earlier: by then the sidecar has
 * removed the address (withdrawGraceMs 1000), so an announcement re-adds it, as for a new Service.
 * (Re-announcing within the grace period would skip the address step and look faster.)
 */
const FRESH_AFTER_MS = 2500;

interface Down {
  readonly i: number;
  readonly at: number;
}

/** A random service for which busy(i) is false, or undefined when there is none. */
function pick(n: number, random: () => number, busy: (i: number) => boolean): number | undefined {
  const start = Math.floor(random() * n);
  for (let k = 0; k < n; k++) {
    const i = (start + k) % n;
    if (!busy(i)) return i;
  }
  return undefined;
}

async function runSequential(
  fib: FibMonitor,
  bgp: TorBgp,
  env: SidecarLab,
  n: number,
  flips: number,
  random: () => number,
): Promise<ChangeResult> {
  await sleep(1500);
  const tracker = new ChangeTracker(fib, bgp, 2);
  const down: Down[] = [];
  const isDown = new Set<number>();
  let withdrawn = 0;
  let announced = 0;
  try {
    while (announced < flips) {
      const oldest = down[0];
      const ripe = oldest !== undefined && performance.now() - oldest.at >= FRESH_AFTER_MS;
      const i = ripe || withdrawn >= flips ? undefined : pick(n, random, (x) => isDown.has(x));
      if (oldest !== undefined && i === undefined) {
        if (!ripe) await sleep(FRESH_AFTER_MS - (performance.now() - oldest.at));
        down.shift();
        isDown.delete(oldest.i);
        await tracker.track(prefixOf(oldest.i), true, () =>
          env.api.upsert(slice(svcName(oldest.i), [{ ready: true }])),
        );
        announced++;
      } else if (i !== undefined) {
        isDown.add(i);
        await tracker.track(prefixOf(i), false, () => env.api.upsert(slice(svcName(i), [{ ready: false }])));
        down.push({ i, at: performance.now() });
        withdrawn++;
      } else throw new Error("no service left to withdraw");
    }
  } finally {
    tracker.stop();
  }
  const split = (present: boolean) =>
    appliedSplit(
      tracker.done.filter((c) => c.present === present),
      env,
    );
  return { ...changeResult(tracker.done), split: { withdraw: split(false), announce: split(true) } };
}

/**
 * Each change against the first "applied" line the sidecar logged at or after it (the phase's
 * changes do not overlap; log times are whole milliseconds, hence the 1 ms of slack).
 */
function appliedSplit(changes: readonly Change[], env: SidecarLab): AppliedSplit {
  const applied = (env.sidecar?.logs ?? [])
    .filter((l) => l.msg === "applied")
    .map(logTime)
    .filter((t): t is number => t !== undefined);
  const at = changes.map((c) =>
    applied.find((t) => t >= c.t0 - 1 && (c.wireAt === undefined || t <= c.wireAt + 1)),
  );
  return {
    toApplied: summarize(changes.map((c, i) => (at[i] === undefined ? undefined : at[i] - c.t0))),
    appliedToWire: summarize(
      changes.map((c, i) => (at[i] === undefined || c.wireAt === undefined ? undefined : c.wireAt - at[i])),
    ),
  };
}

/** New Services one at a time, each with an attribute set FRR does not run yet (and FRR alone). */
const NEW_SET_CHANGES = 20;

/**
 * Services with BGP attributes: the first `attributeServices` get communities from
 * `attributeSets` distinct sets (not timed; the settle pass follows), then sequential readiness
 * flips among them, then new Services one at a time, each with a set FRR does not run yet, until
 * the tor has them, and their deletion.
 */
async function runAttributes(p: {
  readonly env: SidecarLab;
  readonly fib: FibMonitor;
  readonly bgp: TorBgp;
  readonly n: number;
  readonly opts: Options;
  readonly random: () => number;
  readonly phase: (name: string, pid: number) => CallCounts;
  readonly pid: number;
}): Promise<AttributesResult> {
  const { env, fib, bgp, n, opts, random, phase, pid } = p;
  const k = Math.min(n, opts.attributeServices);
  const sets = Math.min(k, opts.attributeSets);
  log(`attributes: ${k} services with communities from ${sets} distinct sets`);
  const communities = (set: number) => ({ "frr-advertiser.io/communities": `65000:${set}` });
  for (let i = 0; i < k; i++)
    env.api.upsert(service(svcName(i), { clusterIPs: [serviceIp(i)], annotations: communities(i % sets) }));
  // Past the settle pass (at most 5 s after the first change) before anything is timed.
  await sleep(7000);
  phase("attributesSetup", pid);
  const flips = await runSequential(fib, bgp, env, k, Math.min(opts.flips, 50), random);
  const tracker = new ChangeTracker(fib, bgp, 2);
  try {
    for (let j = 0; j < NEW_SET_CHANGES; j++) {
      const i = n + j;
      await tracker.track(prefixOf(i), true, () => {
        env.api.upsert(
          service(svcName(i), {
            clusterIPs: [serviceIp(i)],
            annotations: { "frr-advertiser.io/communities": `65001:${j}` },
          }),
        );
        env.api.upsert(slice(svcName(i), [{ ready: true }]));
      });
      await sleep(300);
      await tracker.track(prefixOf(i), false, () => env.api.remove("Service", "default", svcName(i)));
      env.api.remove("EndpointSlice", "default", `${svcName(i)}-1`);
      await sleep(300);
    }
  } finally {
    tracker.stop();
  }
  const newSet = changeResult(tracker.done);
  const reloads = phase("attributes", pid).reload;
  log(
    `  flips FIB p50/p99 ${flips.all.fib.p50}/${flips.all.fib.p99} ms; new set → FIB p50/p99 ${newSet.announce.fib.p50}/${newSet.announce.fib.p99} ms; frr-reload.py runs ${reloads}`,
  );
  return { services: k, sets, flips, newSet, reloads };
}

async function runLoad(
  fib: FibMonitor,
  bgp: TorBgp,
  env: SidecarLab,
  s: SidecarProcess,
  n: number,
  opts: Options,
  random: () => number,
): Promise<LoadResult> {
  await sleep(1500);
  const tracker = new ChangeTracker(fib, bgp, 5);
  const total = opts.rate * opts.loadSeconds;
  const interval = 1000 / opts.rate;
  const down: Down[] = [];
  const isDown = new Set<number>();
  const inflight: Promise<unknown>[] = [];
  const logMark = s.logs.length;
  let maxPending = 0;
  let skipped = 0;
  const t0 = performance.now();
  try {
    for (let k = 0; k < total; k++) {
      const wait = t0 + k * interval - performance.now();
      if (wait > 0) await sleep(wait);
      const oldest = down[0];
      if (k % 2 === 1 && oldest !== undefined && performance.now() - oldest.at >= FRESH_AFTER_MS) {
        down.shift();
        isDown.delete(oldest.i);
        inflight.push(
          tracker.track(prefixOf(oldest.i), true, () =>
            env.api.upsert(slice(svcName(oldest.i), [{ ready: true }])),
          ),
        );
      } else {
        const i = pick(n, random, (x) => isDown.has(x) || tracker.isPending(prefixOf(x)));
        if (i === undefined) {
          skipped++;
          continue;
        }
        isDown.add(i);
        inflight.push(
          tracker
            .track(prefixOf(i), false, () => env.api.upsert(slice(svcName(i), [{ ready: false }])))
            .then(() => {
              down.push({ i, at: performance.now() });
            }),
        );
      }
      maxPending = Math.max(maxPending, tracker.pendingCount);
    }
    const issuedMs = performance.now() - t0;
    await Promise.all(inflight);
    const timed = [...tracker.done];
    // Restore every service left unready (not timed: the next phase wants all N announced).
    await Promise.all(
      [...isDown].map((i) =>
        tracker.track(prefixOf(i), true, () => env.api.upsert(slice(svcName(i), [{ ready: true }]))),
      ),
    );
    const applies = s.logs.slice(logMark).filter((l) => l.msg === "applied");
    return {
      ...changeResult(timed),
      requestedRate: opts.rate,
      achievedRate: round(total / (issuedMs / 1000)),
      changes: total,
      durationMs: round(issuedMs),
      applies: applies.length,
      applyMs: summarize(applies.map((l) => (typeof l["ms"] === "number" ? l["ms"] : undefined))),
      maxPending,
      skipped,
    };
  } finally {
    tracker.stop();
  }
}

/** Changes at a low rate for many minutes: does memory come back to where it started? */
async function runSoak(
  fib: FibMonitor,
  bgp: TorBgp,
  env: SidecarLab,
  s: Running,
  n: number,
  opts: Options,
  random: () => number,
): Promise<SoakResult> {
  log(`soak: ${opts.soakRate} changes/s for ${opts.soakMinutes} min`);
  const trimsBefore = await trimStats(s);
  const began = performance.now();
  const start = await sampleMem(s);
  log(`  0 s: ${memText(start)}`);
  const samples: SoakSample[] = [];
  const sampler = everyMinute(async () => {
    const m = await sampleMem(s);
    const sample = {
      atS: round((performance.now() - began) / 1000),
      rssMb: m.rssMb,
      rssAnonMb: m.rssAnonMb,
      heapUsedMb: m.heapUsedMb,
      heapTotalMb: m.heapTotalMb,
      spacesMb: m.spacesMb,
    };
    samples.push(sample);
    log(`  ${sample.atS} s: ${memText(m)}`);
  });
  let load: LoadResult;
  try {
    load = await runLoad(
      fib,
      bgp,
      env,
      s.s,
      n,
      { ...opts, rate: opts.soakRate, loadSeconds: opts.soakMinutes * 60 },
      random,
    );
  } finally {
    await sampler.stop();
  }
  const trimsAtLastChange = await trimsSoFar(s);
  await sleep(2000);
  const endUntrimmed = await sampleMem(s);
  // Like the start (after the churn phase's trim): once the sidecar has given back what it freed.
  const endTrim = await sampleMemTrimmed(s, trimsAtLastChange);
  log(`  ${trimmedText(endTrim)}`);
  const end = endTrim.mem;
  const trimsAfter = await trimStats(s);
  const trims = trimsBetween(trimsBefore, trimsAfter);
  if (trims !== undefined)
    log(`  memory trims during the soak: ${trims.count}, mean ${trims.meanMs ?? "–"} ms`);
  const rssGrowthPct = round(((end.rssMb - start.rssMb) / start.rssMb) * 100, 1);
  const half = samples.find((x) => x.atS >= (opts.soakMinutes * 60) / 2);
  const last = samples.at(-1);
  const rssGrowthSecondHalfPct =
    half === undefined || last === undefined || last === half || opts.soakMinutes < 2
      ? undefined
      : round(((last.rssMb - half.rssMb) / half.rssMb) * 100, 1);
  const used = samples.map((x) => x.heapUsedMb).filter((x): x is number => x !== undefined);
  log(
    `  RSS ${start.rssMb} → ${end.rssMb} MB (${rssGrowthPct} %; second half ${rssGrowthSecondHalfPct ?? "–"} %), JS heap used ${start.heapUsedMb} → ${end.heapUsedMb} MB (minute samples ${used.length === 0 ? "none" : `${Math.min(...used)}–${Math.max(...used)}`}); FIB p50/p99 ${load.all.fib.p50}/${load.all.fib.p99} ms`,
  );
  return {
    minutes: opts.soakMinutes,
    rate: opts.soakRate,
    rssStartMb: start.rssMb,
    rssEndMb: end.rssMb,
    rssEndUntrimmedMb: endUntrimmed.rssMb,
    rssGrowthPct,
    rssGrowthSecondHalfPct,
    ...(trims === undefined ? {} : { trims }),
    heapUsedStartMb: start.heapUsedMb,
    heapUsedEndMb: end.heapUsedMb,
    samples,
    load,
  };
}

/** How many trims ran between two readings of trimStats, and their mean duration. */
function trimsBetween(
  before: { count: number; seconds: number } | undefined,
  after: { count: number; seconds: number } | undefined,
): SoakResult["trims"] {
  if (before === undefined || after === undefined) return undefined;
  const count = after.count - before.count;
  return {
    count,
    meanMs: count === 0 ? undefined : round(((after.seconds - before.seconds) * 1000) / count, 1),
  };
}

function trimmedText(t: { mem: MemSample; trimMs?: number }): string {
  const when = t.trimMs === undefined ? "no memory trim within the wait" : `memory trim after ${t.trimMs} ms`;
  return `${when}: ${memText(t.mem)}`;
}

/** "RSS 121 MB (anonymous 69), JS heap used 47 of 50 (new 8, old 33.4, …)": V8's spaces ≥ 1 MB. */
function memText(m: MemFigures): string {
  const spaces = Object.entries(m.spacesMb)
    .filter(([, mb]) => mb >= 1)
    .map(([space, mb]) => `${space} ${mb}`)
    .join(", ");
  return `RSS ${m.rssMb} MB (anonymous ${m.rssAnonMb}), JS heap used ${m.heapUsedMb} of ${m.heapTotalMb} (${spaces})`;
}

/** Runs `take` a minute apart (never two at once) until stopped; stop() waits for one under way. */
function everyMinute(take: () => Promise<void>): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const tick = (): void => {
    running = take()
      .catch((err: unknown) => {
        log(`  sample failed: ${String(err)}`);
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, 60_000);
      });
  };
  let timer = setTimeout(tick, 60_000);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

async function measureDrain(
  s: Running,
  fib: FibMonitor,
  bgp: TorBgp,
  wanted: ReadonlySet<string>,
  lab: Lab,
): Promise<DrainResult> {
  const n = wanted.size;
  const ready = await bgp.waitCount((c) => c >= n, 30_000);
  if (ready === undefined) throw new Error("the tor does not hold all prefixes before the drain");
  const fibNone = watchFibCount(fib, wanted, (c) => c === 0);
  const t0 = wallNow();
  s.signal("SIGTERM");
  let exited: { code: number | null; signal: string | null; at: number } | undefined;
  const exit = s.exited().then((e) => {
    exited = e;
    return e;
  });
  // The drain waits for the peers before it exits: allow the tor 10 s after the exit, not minutes.
  let wireAt: number | undefined;
  let left = n;
  const hardDeadline = t0 + 120_000;
  while (wireAt === undefined) {
    const c = (await bgp.peer().catch(() => undefined))?.pfxRcd;
    if (c !== undefined) left = c;
    if (c === 0) wireAt = wallNow();
    else if (wallNow() > Math.min(hardDeadline, (exited?.at ?? Infinity) + 10_000)) break;
    else await sleep(10);
  }
  const fibAt = await fibSettledAt({
    readFib: () => lab.torFibRoutes(4),
    watch: fibNone,
    wanted,
    all: false,
    deadline: wallNow() + (wireAt === undefined ? 0 : 30_000),
  });
  fibNone.stop();
  const e = await exit;
  return {
    wireNoneMs: wireAt === undefined ? undefined : round(wireAt - t0),
    fibNoneMs: fibAt === undefined ? undefined : round(fibAt - t0),
    exitMs: round(e.at - t0),
    exitCode: e.code,
    exitSignal: e.signal,
    leftAtTor: wireAt === undefined ? left : 0,
  };
}

// ------------------------------------------------------------------------------------------ seed

async function seedBaselines(opts: Options): Promise<SeedRow[]> {
  const rows: SeedRow[] = [];
  const measured = new Map<number, SeedResult>();
  for (const size of opts.sizes) {
    const n = opts.seedFull ? size : Math.min(size, opts.seedSample);
    let r = measured.get(n);
    if (r === undefined) {
      log(`seed baseline: ${n} sequential vtysh processes`);
      r = await runSeedBaseline(n, log);
      measured.set(n, r);
      log(`  ${r.processesMs} ms for ${n} processes (${r.perProcessMs} ms each), FIB all ${r.fibAllMs} ms`);
    }
    const scale = size / n;
    rows.push({
      ...r,
      forSize: size,
      extrapolated: n !== size,
      fibAllMsForSize: r.fibAllMs === undefined ? undefined : round(r.fibAllMs * scale),
    });
  }
  return rows;
}

/** The debounce + frr-reload.py method per size, a few changes each (each costs 3 s + a reload). */
async function debounceBaselines(opts: Options): Promise<DebounceReloadResult[]> {
  const out: DebounceReloadResult[] = [];
  for (const n of opts.sizes) {
    log(`baseline: ${DEBOUNCE_MS} ms debounce + frr-reload.py per change, ${n} prefixes`);
    const r = await runDebounceReloadBaseline(n, 3, log);
    log(`  change → FIB p50/p99 ${r.fibMs.p50}/${r.fibMs.p99} ms (reload ${r.reloadMs.p50} ms)`);
    out.push(r);
  }
  return out;
}

// ------------------------------------------------------------------------------------------ report

/** Paths of every figure in a size's result that was never measured. */
function unmeasured(value: unknown, path = ""): string[] {
  if (value === undefined || (typeof value === "number" && !Number.isFinite(value))) return [path];
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => unmeasured(v, path === "" ? k : `${path}.${k}`));
}

function correctnessChecks(s: SizeResult): Check[] {
  const k = label(s.n);
  const out: Check[] = [];
  for (const [name, d] of [
    ["drain", s.drain],
    ["drain again (warm)", s.drainWarm],
    ...s.restarts.drains.map((d, i) => [`drain before restart ${i + 2}`, d] as const),
    ...(s.restartWithAttributes === undefined
      ? []
      : [["drain after the restart with attribute sets", s.restartWithAttributes.drain] as const]),
  ] as const) {
    out.push({
      what: `${k}: ${name}: prefixes left at the tor`,
      value: d.leftAtTor,
      target: "0",
      pass: d.leftAtTor === 0,
      correctness: true,
    });
    out.push({
      what: `${k}: ${name}: exit code${d.exitSignal === null ? "" : ` (killed by ${d.exitSignal})`}`,
      value: d.exitCode ?? undefined,
      target: "0, not a signal",
      pass: d.exitCode === 0 && d.exitSignal === null,
      correctness: true,
    });
  }
  for (const path of unmeasured(s))
    out.push({
      what: `${k}: ${path} was not measured`,
      value: undefined,
      target: "a number",
      pass: false,
      correctness: true,
    });
  return out;
}

function checks(sizes: readonly SizeResult[]): Check[] {
  const out: Check[] = [];
  for (const s of sizes) {
    const k = label(s.n);
    out.push(...correctnessChecks(s));
    for (const f of TARGET_FIGURES) {
      const limit = f.limit(s.n);
      if (limit === undefined || (f.applies !== undefined && !f.applies(s))) continue;
      const v = f.value(s);
      out.push({
        what: `${k}: ${f.name.replace(/ \([^)]*\)$/, "")}`,
        value: v === undefined ? undefined : round(v, f.digits ?? 1),
        target: `≤ ${limit} ${f.unit}`.trimEnd(),
        pass: meets(f, s),
      });
    }
  }
  return out;
}

function table(
  sizes: readonly SizeResult[],
  seed: readonly SeedRow[],
  debounced: readonly DebounceReloadResult[],
  cks: readonly Check[],
  /** Which FRR and which sidecar ran. */
  what: string,
): string {
  const head = ["metric", ...sizes.map((s) => `N=${label(s.n)}`), "floor", "ratio (last N)"];
  const rows: string[][] = [];
  const row = (
    name: string,
    get: (s: SizeResult) => number | undefined,
    floor?: number,
    digits = 0,
  ): void => {
    const last = sizes.at(-1);
    const lastVal = last === undefined ? undefined : get(last);
    rows.push([
      name,
      ...sizes.map((s) => fmt(get(s), digits)),
      floor === undefined ? "" : fmt(floor),
      floor === undefined || lastVal === undefined ? "" : `${fmt(lastVal / floor, 2)}×`,
    ]);
  };
  const text = (name: string, get: (s: SizeResult) => string): void => {
    rows.push([name, ...sizes.map(get), "", ""]);
  };
  row("initial sync cold → wire all (ms)", (s) => s.syncCold.wireAllMs);
  row("initial sync cold → FIB all (ms)", (s) => s.syncCold.fibAllMs);
  row("  of which: session up (ms)", (s) => s.syncCold.sessionMs);
  row("initial sync warm → wire all (ms)", (s) => s.syncWarm.wireAllMs);
  row("initial sync warm → FIB all (ms)", (s) => s.syncWarm.fibAllMs);
  row("  of which: process start → 'starting' (ms)", (s) => s.syncWarm.startingMs);
  row("  of which: first apply done (ms)", (s) => s.syncWarm.appliedMs);
  text("restarts: count", (s) => String(s.restarts.samples.length));
  text("  → FIB all, median (min–max) (ms)", (s) => spreadText(s.restarts.fibAllMs));
  text("  → 'starting', median (min–max) (ms)", (s) => spreadText(s.restarts.startingMs));
  row("seq. change → wire p50 (ms)", (s) => s.sequential.all.wire.p50, FLOOR_WIRE_MS);
  row("seq. change → wire p99 (ms)", (s) => s.sequential.all.wire.p99, FLOOR_WIRE_MS);
  row("seq. change → FIB p50 (ms)", (s) => s.sequential.all.fib.p50, FLOOR_FIB_MS);
  row("seq. change → FIB p99 (ms)", (s) => s.sequential.all.fib.p99, FLOOR_FIB_MS);
  text(
    "  withdraw / announce → FIB p50 (ms)",
    (s) => `${fmt(s.sequential.withdraw.fib.p50)} / ${fmt(s.sequential.announce.fib.p50)}`,
  );
  text(
    "  withdraw / announce → FIB p99 (ms)",
    (s) => `${fmt(s.sequential.withdraw.fib.p99)} / ${fmt(s.sequential.announce.fib.p99)}`,
  );
  const split = (pick: (x: AppliedSplit) => Summary) => (s: SizeResult) => {
    const w = s.sequential.split?.withdraw;
    const a = s.sequential.split?.announce;
    if (w === undefined || a === undefined) return "";
    return `${fmt(pick(w).p50)}/${fmt(pick(w).p99)} · ${fmt(pick(a).p50)}/${fmt(pick(a).p99)}`;
  };
  text(
    "  withdraw · announce: → sidecar applied p50/p99",
    split((x) => x.toApplied),
  );
  text(
    "  withdraw · announce: applied → wire p50/p99",
    split((x) => x.appliedToWire),
  );
  if (sizes.some((s) => s.floor !== undefined)) {
    // Measured in this run, per size: the same flips through bgpd's vty with no sidecar.
    const ratio = (ours: number, frr: number | undefined): string =>
      frr === undefined || frr <= 0 ? "–" : `${fmt(ours / frr, 2)}×`;
    row("FRR alone: seq. change → wire p50 (ms)", (s) => s.floor?.wire.p50);
    row("FRR alone: seq. change → wire p99 (ms)", (s) => s.floor?.wire.p99);
    row("FRR alone: seq. change → FIB p50 (ms)", (s) => s.floor?.fib.p50);
    row("FRR alone: seq. change → FIB p99 (ms)", (s) => s.floor?.fib.p99);
    text(
      "  withdraw / announce → FIB p50 (ms)",
      (s) => `${fmt(s.floor?.withdraw.fib.p50)} / ${fmt(s.floor?.announce.fib.p50)}`,
    );
    text(
      "ours / FRR alone: seq. wire p50 / p99",
      (s) =>
        `${ratio(s.sequential.all.wire.p50, s.floor?.wire.p50)} / ${ratio(s.sequential.all.wire.p99, s.floor?.wire.p99)}`,
    );
    text(
      "ours / FRR alone: seq. FIB p50 / p99",
      (s) =>
        `${ratio(s.sequential.all.fib.p50, s.floor?.fib.p50)} / ${ratio(s.sequential.all.fib.p99, s.floor?.fib.p99)}`,
    );
    row("FRR alone: N network lines, one batch → FIB all (ms)", (s) => s.floor?.load.fibMs);
    row("FRR alone: N no-network lines, one batch → FIB none (ms)", (s) => s.floor?.clear.fibMs);
  }
  row("load: achieved changes/s", (s) => s.load.achievedRate);
  row("load: change → wire p50 (ms)", (s) => s.load.all.wire.p50, FLOOR_WIRE_MS);
  row("load: change → wire p99 (ms)", (s) => s.load.all.wire.p99, FLOOR_WIRE_MS);
  row("load: change → FIB p50 (ms)", (s) => s.load.all.fib.p50, FLOOR_FIB_MS);
  row("load: change → FIB p99 (ms)", (s) => s.load.all.fib.p99, FLOOR_FIB_MS);
  text(
    "  withdraw / announce → FIB p99 (ms)",
    (s) => `${fmt(s.load.withdraw.fib.p99)} / ${fmt(s.load.announce.fib.p99)}`,
  );
  row("load: applies (batches)", (s) => s.load.applies);
  row("load: timeouts", (s) => s.load.all.fib.timeouts + s.sequential.all.fib.timeouts);
  if (sizes.some((s) => s.attributes !== undefined)) {
    text("attributes: services / sets", (s) => `${fmt(s.attributes?.services)} / ${fmt(s.attributes?.sets)}`);
    row("attributes: flip → FIB p50 (ms)", (s) => s.attributes?.flips.all.fib.p50, FLOOR_FIB_MS);
    row("attributes: flip → FIB p99 (ms)", (s) => s.attributes?.flips.all.fib.p99, FLOOR_FIB_MS);
    row("attributes: new set → FIB p50 (ms)", (s) => s.attributes?.newSet.announce.fib.p50, FLOOR_FIB_MS);
    row("attributes: new set → FIB p99 (ms)", (s) => s.attributes?.newSet.announce.fib.p99, FLOOR_FIB_MS);
    row("attributes: frr-reload.py runs", (s) => s.attributes?.reloads);
    if (sizes.some((s) => s.floor?.newSet !== undefined)) {
      row("FRR alone: new set → FIB p50 (ms)", (s) => s.floor?.newSet?.announce.fib.p50);
      row("FRR alone: new set → FIB p99 (ms)", (s) => s.floor?.newSet?.announce.fib.p99);
      text("ours / FRR alone: new set FIB p50 / p99", (s) => {
        const ours = s.attributes?.newSet.announce.fib;
        const frr = s.floor?.newSet?.announce.fib;
        if (ours === undefined || frr === undefined || frr.p50 <= 0 || frr.p99 <= 0) return "–";
        return `${fmt(ours.p50 / frr.p50, 2)}× / ${fmt(ours.p99 / frr.p99, 2)}×`;
      });
    }
  }
  row("RSS after sync (MB)", (s) => s.procAfterSync.rssMb, undefined, 1);
  row("  once trimmed (MB)", (s) => s.procAfterSyncTrimmed.rssMb, undefined, 1);
  row("  JS heap used after sync (MB)", (s) => s.procAfterSync.heapUsedMb, undefined, 1);
  row("RSS after churn (MB)", (s) => s.procAfterChurn.rssMb, undefined, 1);
  row("  once trimmed (MB)", (s) => s.procAfterChurnTrimmed.rssMb, undefined, 1);
  text(
    "  JS heap used / total after churn (MB)",
    (s) => `${fmt(s.procAfterChurn.heapUsedMb)} / ${fmt(s.procAfterChurn.heapTotalMb)}`,
  );
  row(
    "peak RSS (VmHWM, MB)",
    (s) => Math.max(s.procAfterChurn.hwmMb, s.procAfterWarmSync.hwmMb),
    undefined,
    1,
  );
  if (sizes.some((s) => s.soak !== undefined)) {
    row("soak: RSS at start (MB)", (s) => s.soak?.rssStartMb, undefined, 1);
    row("soak: RSS at end (MB)", (s) => s.soak?.rssEndMb, undefined, 1);
    row("soak: RSS growth (%)", (s) => s.soak?.rssGrowthPct, undefined, 1);
    row("soak: RSS growth, second half (%)", (s) => s.soak?.rssGrowthSecondHalfPct, undefined, 1);
    row("soak: change → FIB p99 (ms)", (s) => s.soak?.load.all.fib.p99);
  }
  row("CPU start+sync (ms, self)", (s) => s.procAfterSync.cpuMs);
  row("CPU start+sync (ms, children)", (s) => s.procAfterSync.childCpuMs);
  row("CPU after churn (ms, self)", (s) => s.procAfterChurn.cpuMs);
  row("idle reconcile CPU, net (ms/pass)", (s) => s.idle.cpuMsPerPassNet, undefined, 2);
  row("idle reconcile CPU, raw (ms/pass)", (s) => s.idle.cpuMsPerPassRaw, undefined, 2);
  row("idle children CPU (ms/pass)", (s) => s.idle.childCpuMsPerPass, undefined, 1);
  row("idle FRR calls (window, excl. metrics poll)", (s) => s.idle.frrCalls);
  row("idle session-metrics polls (window)", (s) => s.idle.metricsPolls);
  row("idle ip calls (window)", (s) => s.idle.calls.ip);
  row("drain → wire none (ms)", (s) => s.drain.wireNoneMs);
  row("drain → FIB none (ms)", (s) => s.drain.fibNoneMs);
  row("drain → process exit (ms)", (s) => s.drain.exitMs);
  for (const r of seed) {
    const ours = sizes.find((s) => s.n === r.forSize);
    rows.push([
      `seed: vtysh per prefix → FIB all (ms)${r.extrapolated ? ` [extrapolated from ${r.n}]` : ""}`,
      ...sizes.map((s) => (s.n === r.forSize ? fmt(r.fibAllMsForSize) : "")),
      "",
      ours?.syncWarm.fibAllMs !== undefined && r.fibAllMsForSize !== undefined
        ? `ours/seed ${fmt(ours.syncWarm.fibAllMs / r.fibAllMsForSize, 3)}`
        : "",
    ]);
  }
  for (const r of debounced) {
    const ours = sizes.find((s) => s.n === r.n);
    rows.push([
      `3 s debounce + frr-reload.py (MetalLB/frr-k8s) → FIB p50 / p99 (ms)`,
      ...sizes.map((s) => (s.n === r.n ? `${fmt(r.fibMs.p50)} / ${fmt(r.fibMs.p99)}` : "")),
      "",
      ours === undefined ? "" : `ours/it p50 ${fmt(ours.sequential.all.fib.p50 / r.fibMs.p50, 3)}`,
    ]);
  }
  const widths = head.map((_, c) => Math.max(...[head, ...rows].map((r) => (r[c] ?? "").length)));
  const line = (r: readonly string[]): string =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join("  ");
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
  out.push("", "targets:");
  for (const c of cks)
    out.push(
      `  ${c.pass ? "PASS" : c.correctness === true ? "FAIL" : "MISS"}  ${c.what}: ${fmt(c.value, 1)} (${c.target})`,
    );
  out.push(
    "",
    what,
    "floor = FRR's own change→peer time through an open vty session (docs/frr-measurements.md, FRR 8.4); ratio = last size / floor.",
    ...(sizes.some((s) => s.floor !== undefined)
      ? [
          "FRR alone = the same flips as network / no network lines over a kept-open vty connection to the node's bgpd, no sidecar, measured in this run per size.",
        ]
      : []),
    "Noisy shared 2-core machine: one run per figure; re-run before trusting a difference < 20 %.",
  );
  return out.join("\n");
}

await main();
