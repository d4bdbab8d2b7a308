// The shipped artifact, run as the chart's DaemonSet says: the image's frr and advertiser
// containers (and the init container) started by PodRunner from `helm template` output, in a
// network namespace playing the node, against the fake API server (HTTPS, in-cluster config, as a
// pod sees it) and a top-of-rack FRR in another namespace. Needs root, podman and the image
// (`npm run image`); where skips are not allowed (requireTool: CI) a missing piece is a failure.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments, stringify } from "yaml";
import { FakeKubeApi } from "../fakes/fake-kube-api.js";
import { createLab, hasAll, hasNone, LAB_REQUIREMENTS, type Lab } from "../lab/netns-lab.js";
import { ensureHelm, REPO_ROOT } from "../chart/helm.js";
import { node, service, slice } from "../e2e/harness.js";
import { TorSampler, waitUntil } from "../e2e/e2e-helpers.js";
import { IMAGE, PODMAN_ENV } from "../lab/image-frr.js";
import { requireTool } from "../support/require-tool.js";
import { OwnedAddressStore } from "../../sidecar/src/netif/owned-state.js";
import { PodRunner, startApiProxy, type PodSpec } from "./pod-runner.js";

const NODE_NAME = "node-a";
const API_PORT = 6443;
const WAIT = 30_000;

const SKIP = requireTool([...LAB_REQUIREMENTS, "openssl", "curl", `podman image ${IMAGE}`], {
  for: "pod test",
});

interface Manifest {
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly data?: Record<string, string>;
  readonly spec?: { readonly template: { readonly spec: PodSpec } };
}

/** `helm template` of the chart with these values: the DaemonSet's pod and its ConfigMaps. */
function renderChart(
  dir: string,
  values: Record<string, unknown>,
): { pod: PodSpec; configMaps: Map<string, Record<string, string>> } {
  const valuesFile = join(dir, "values.yaml");
  writeFileSync(valuesFile, stringify(values));
  const out = execFileSync(ensureHelm(), ["template", "pod", join(REPO_ROOT, "chart"), "-f", valuesFile], {
    encoding: "utf8",
  });
  const docs = parseAllDocuments(out)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null);
  const ds = docs.find((d) => d.kind === "DaemonSet");
  assert.ok(ds?.spec, "no DaemonSet in the chart's output");
  const configMaps = new Map(
    docs.filter((d) => d.kind === "ConfigMap").map((d) => [d.metadata.name, d.data ?? {}]),
  );
  return { pod: ds.spec.template.spec, configMaps };
}

function tlsFor127(dir: string): { key: string; cert: string } {
  const key = join(dir, "api.key");
  const cert = join(dir, "api.crt");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=fake-apiserver",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  return {
    key: execFileSync("cat", [key], { encoding: "utf8" }),
    cert: execFileSync("cat", [cert], { encoding: "utf8" }),
  };
}

function hostGid(group: string): string {
  const id = spawnSync("getent", ["group", group], { encoding: "utf8" }).stdout.split(":")[2];
  if (id === undefined) throw new Error(`no group ${group} on this machine`);
  return id;
}

const WEB = "10.96.0.10/32";
const API = "10.96.0.11/32";

void describe("the chart's pod from the image", { skip: SKIP }, () => {
  let lab: Lab | undefined;
  let api: FakeKubeApi | undefined;
  let proxy: { stop(): void } | undefined;
  let pod: PodRunner | undefined;
  let dir = "";
  let configMaps = new Map<string, Record<string, string>>();

  before(
    async () => {
      dir = await mkdtemp(join(tmpdir(), "fa-pod-"));
      lab = await createLab({ nodeDaemons: false });
      const tls = tlsFor127(dir);
      api = new FakeKubeApi({ tls, socketPath: join(dir, "api.sock") });
      await api.start();
      api.upsert(node());
      for (const o of [
        service("web", { clusterIPs: ["10.96.0.10"] }),
        slice("web", [{ ready: true }]),
        service("api", { clusterIPs: ["10.96.0.11"] }),
        slice("api", [{ ready: true }]),
      ])
        api.upsert(o);
      proxy = await startApiProxy(lab.nodeNs, API_PORT, join(dir, "api.sock"));
      const rendered = renderChart(dir, {
        image: {
          repository: IMAGE.replace(/:[^:/]+$/, ""),
          tag: IMAGE.replace(/^.*:/, ""),
          pullPolicy: "Never",
        },
        // The test updates the ConfigMap volume in place, as the kubelet does, with live reload on.
        templates: { liveReload: true },
        config: {
          bgp: { asn: lab.nodeAsn, neighbors: [{ address: lab.torAddr4, remoteAs: "external" }] },
          advertise: { allowedCidrs: ["10.96.0.0/12"], excludedIps: ["10.96.0.1"] },
        },
      });
      configMaps = rendered.configMaps;
      pod = new PodRunner({
        pod: rendered.pod,
        podName: "pod-frr-advertiser-test",
        nodeName: NODE_NAME,
        netns: lab.nodeNs,
        dir,
        configMaps,
        apiHost: "127.0.0.1",
        apiPort: API_PORT,
        serviceAccount: { token: "fake-token", caCert: tls.cert, namespace: "default" },
        podmanEnv: PODMAN_ENV,
      });
      await pod.start();
    },
    { timeout: 180_000 },
  );

  after(async () => {
    if (pod !== undefined && process.env["FA_POD_LOGS"] === "1")
      for (const c of ["frr", "advertiser"]) console.log(`--- ${c} ---\n${(await pod.logs(c)).stdout}`);
    await pod?.remove();
    proxy?.stop();
    await api?.stop();
    await lab?.destroy();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  /** Runs a test body; on failure prints both containers' logs, then rethrows. */
  const diagnosed = (body: () => Promise<void>) => async (): Promise<void> => {
    try {
      await body();
    } catch (e) {
      if (pod !== undefined)
        for (const c of ["frr", "advertiser"]) {
          const l = await pod.logs(c).catch(() => undefined);
          console.log(`--- ${c} logs ---\n${(l?.stdout ?? "") + (l?.stderr ?? "")}`.slice(-6000));
        }
      throw e;
    }
  };

  void test(
    "both containers start; the manifest's startup, liveness and readiness probes succeed",
    { timeout: 120_000 },
    diagnosed(async () => {
      const p = pod!;
      await waitUntil(() => p.probe("frr", "startupProbe"), WAIT, "frr's startup probe");
      await waitUntil(() => p.probe("advertiser", "startupProbe"), WAIT, "the advertiser's startup probe");
      await waitUntil(
        () => p.probe("advertiser", "readinessProbe"),
        WAIT,
        "the advertiser's readiness probe",
      );
      assert.ok(await p.probe("frr", "livenessProbe"), "frr's liveness probe");
      assert.ok(await p.probe("advertiser", "livenessProbe"), "the advertiser's liveness probe");
      // The image's FRR is the one the sidecar talks to: 10.3 from Debian 13.
      const version = await p.exec("frr", ["vtysh", "-c", "show version"]);
      assert.match(version.stdout, /FRRouting 10\.3/);
    }),
  );

  void test(
    "the Services' prefixes reach the tor, and a readiness flip reaches it",
    { timeout: 120_000 },
    diagnosed(async () => {
      await lab!.waitForTorRoutes(hasAll(WEB, API), WAIT, { family: 4 });
      api!.upsert(slice("web", [{ ready: false }]));
      await lab!.waitForTorRoutes((r) => !r.has(WEB) && r.has(API), WAIT, { family: 4 });
      api!.upsert(slice("web", [{ ready: true }]));
      await lab!.waitForTorRoutes(hasAll(WEB, API), WAIT, { family: 4 });
    }),
  );

  void test(
    "the image's node has --expose-gc: once applies pause, a memory trim gives heap pages back",
    { timeout: 120_000 },
    diagnosed(async () => {
      const p = pod!;
      // The flip above applied; timings.memoryTrimSeconds (5 s) of quiet later the trim runs.
      const trims = async () => {
        const body = await p.httpGet("advertiser", "metrics", "/metrics");
        return Number(/^frr_advertiser_memory_trims_total (\S+)$/m.exec(body)?.[1] ?? "0");
      };
      await waitUntil(async () => (await trims()) >= 1, WAIT, "frr_advertiser_memory_trims_total ≥ 1");
      const logs = (await p.logs("advertiser")).stdout;
      assert.doesNotMatch(logs, /memory trim off/);
    }),
  );

  void test(
    "the image's compile cache is read by the ENTRYPOINT's node, as the advertiser container runs it",
    { timeout: 120_000 },
    diagnosed(async () => {
      const p = pod!;
      // The ENTRYPOINT after tini, in the advertiser container (its user, its read-only root): a
      // cache made with other V8 flags or by another user would be looked for in another directory.
      const inspected = spawnSync(
        "podman",
        ["image", "inspect", IMAGE, "--format", "{{json .Config.Entrypoint}}"],
        {
          env: PODMAN_ENV,
          encoding: "utf8",
        },
      );
      const entry = JSON.parse(inspected.stdout) as string[];
      assert.deepEqual(entry.slice(0, 2), ["/usr/bin/tini", "--"]);
      const [env, ...rest] = entry.slice(2);
      const probe = await p.exec("advertiser", [
        env!,
        "NODE_DEBUG_NATIVE=COMPILE_CACHE",
        ...rest,
        "run",
        "--config",
        "/nonexistent/config.yaml",
      ]);
      assert.equal(probe.exitCode, 2, probe.stderr);
      assert.match(probe.stderr, /ESM file:\/\/\/app\/chunks\/run-command-\w+\.mjs was accepted/);
      // A module without a usable entry: "… was not initialized, initializing the in-memory entry".
      assert.doesNotMatch(probe.stderr, /was not initialized|rejected/);
    }),
  );

  void test(
    "FRR's daemons killed inside the frr container: watchfrr restarts them, the advertiser re-applies",
    { timeout: 240_000 },
    diagnosed(async () => {
      const p = pod!;
      const before = (await p.logs("advertiser")).stdout.split("\n").length;
      const killed = await p.exec("frr", ["sh", "-c", "kill -9 $(pidof bgpd) $(pidof zebra)"]);
      assert.equal(killed.exitCode, 0, killed.stderr);
      await waitUntil(
        async () =>
          (await p.logs("advertiser")).stdout
            .split("\n")
            .slice(before)
            .some((l) => l.includes('"msg":"applied"')),
        150_000,
        // watchfrr restarts a daemon at most once per --min-restart-interval (60 s) after its start.
        "a re-apply after the restart",
      );
      await lab!.waitForTorRoutes(hasAll(WEB, API), 60_000, { family: 4 });
    }),
  );

  void test(
    "a changed template ConfigMap is applied live",
    { timeout: 120_000 },
    diagnosed(async () => {
      const p = pod!;
      const templates = [...configMaps.entries()].find(([name]) => name.endsWith("-templates"));
      assert.ok(templates, "no templates ConfigMap");
      const [, data] = templates;
      const marker = "ip prefix-list FRRADV-POD-TEST seq 5 permit 192.0.2.0/24";
      const conf = data["frr.conf.hbs"];
      assert.ok(conf !== undefined);
      await p.updateConfigMap("templates", {
        ...data,
        "frr.conf.hbs": conf.replace("{{> header}}\n", `{{> header}}\n${marker}\n`),
      });
      await waitUntil(
        async () => (await p.exec("frr", ["vtysh", "-c", "show running-config"])).stdout.includes(marker),
        WAIT,
        "the template change in FRR's running config",
      );
      await lab!.waitForTorRoutes(hasAll(WEB, API), WAIT, { family: 4 });
    }),
  );

  void test(
    "pod termination in the chart's preStop order: withdrawn at the tor before the advertiser exits, lo clean",
    { timeout: 120_000 },
    diagnosed(async () => {
      const p = pod!;
      await lab!.waitForTorRoutes(hasAll(WEB, API), WAIT, { family: 4 });
      const sampler = new TorSampler(lab!, [4], 0);
      let codes: Map<string, number>;
      try {
        codes = await p.terminate();
      } finally {
        await sampler.stop();
      }
      assert.equal(codes.get("advertiser"), 0, `advertiser exit code (${JSON.stringify([...codes])})`);
      assert.equal(codes.get("frr"), 0, "frr exit code");
      const exit = await p.exitOf("advertiser");
      assert.ok(exit !== undefined);
      const firstEmpty = sampler.samples.find((s) => !s.routes.has(WEB) && !s.routes.has(API));
      assert.ok(firstEmpty !== undefined, "the tor never lost the routes");
      const emptyAt = performance.timeOrigin + firstEmpty.end;
      assert.ok(
        emptyAt <= exit.finishedAt,
        `the tor still had routes when the advertiser exited (${(emptyAt - exit.finishedAt).toFixed(0)} ms late)`,
      );
      await lab!.waitForTorRoutes(hasNone(WEB, API), 1000, { family: 4 });
      const lo = await lab!.nodeAddresses("lo");
      assert.deepEqual(
        lo.filter((a) => a.startsWith("10.96.")),
        [],
        "service addresses left on lo",
      );
      // Read as a restarted advertiser reads it (snapshot and journal): nothing is ours any more.
      const store = new OwnedAddressStore({
        path: join(dir, "host/var/lib/frr-advertiser/addresses.lo.json"),
        iface: "lo",
        warn: () => undefined,
      });
      assert.deepEqual([...(await store.load())], []);
    }),
  );
});

void describe("the image's advertiser against FRR of another release", { skip: SKIP }, () => {
  void test("refuses to apply: logs the mismatch and /readyz says so", { timeout: 120_000 }, async () => {
    // The host's FRR (Debian 12: 8.4) runs the node side of this lab; the image carries 10.3.
    const lab = await createLab();
    const dir = await mkdtemp(join(tmpdir(), "fa-pod-mismatch-"));
    const env = PODMAN_ENV;
    let id = "";
    try {
      const config = {
        nodeName: NODE_NAME,
        bgp: { asn: lab.nodeAsn, neighbors: [{ address: lab.torAddr4, remoteAs: "external" }] },
        advertise: {
          mode: "network",
          interface: "lo",
          allowedCidrs: ["10.96.0.0/12"],
          stateFile: "/state/addresses.json",
        },
        frr: { configFile: "/etc/frr/frr.conf", templateDir: "/app/frr-templates" },
        server: { address: "127.0.0.1", port: 19479 },
      };
      writeFileSync(join(dir, "config.yaml"), stringify(config));
      // An API server that is not there: the version check does not wait for the cluster.
      writeFileSync(
        join(dir, "kubeconfig"),
        stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [
            { name: "none", cluster: { server: "http://127.0.0.1:1", "insecure-skip-tls-verify": true } },
          ],
          users: [{ name: "none", user: { token: "none" } }],
          contexts: [{ name: "none", context: { cluster: "none", user: "none" } }],
          "current-context": "none",
        }),
      );
      const run = spawnSync(
        "podman",
        [
          "run",
          "-d",
          "--pull",
          "never",
          "--network",
          `ns:/run/netns/${lab.nodeNs}`,
          "--cap-drop",
          "ALL",
          "--cap-add",
          "NET_ADMIN",
          // The host FRR's vty sockets belong to the host's frrvty group.
          "--group-add",
          hostGid("frrvty"),
          "-v",
          `/var/run/frr/${lab.nodeNs}:/var/run/frr`,
          "-v",
          `${lab.confDir}:/etc/frr`,
          "-v",
          `${dir}:/state`,
          "-v",
          `${join(dir, "config.yaml")}:/etc/frr-advertiser/config.yaml:ro`,
          "-v",
          `${join(dir, "kubeconfig")}:/etc/kubeconfig:ro`,
          "-e",
          `NODE_NAME=${NODE_NAME}`,
          "-e",
          "KUBECONFIG=/etc/kubeconfig",
          IMAGE,
        ],
        { env, encoding: "utf8" },
      );
      assert.equal(run.status, 0, run.stderr);
      id = run.stdout.trim();
      const logs = () => spawnSync("podman", ["logs", id], { env, encoding: "utf8" });
      await waitUntil(
        () => logs().stdout.includes("FRR version mismatch"),
        WAIT,
        "the mismatch in the log",
      ).catch((e: unknown) => {
        throw new Error(`${String(e)}\n${logs().stdout}${logs().stderr}`);
      });
      const ready = spawnSync(
        "ip",
        ["netns", "exec", lab.nodeNs, "curl", "-s", "http://127.0.0.1:19479/readyz"],
        { encoding: "utf8" },
      );
      assert.match(
        ready.stdout,
        /FRR version mismatch: this container's vtysh and frr-reload\.py are FRR 10\.3, the running bgpd is FRR 8\.4/,
      );
      // The refusal is in force from the check on: nothing of the render reached FRR.
      const running = await lab.vtysh("node", "show running-config");
      assert.doesNotMatch(running, /router bgp/, "nothing was applied");
    } finally {
      if (id !== "") spawnSync("podman", ["rm", "-f", "-t", "0", id], { env });
      await lab.destroy();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
