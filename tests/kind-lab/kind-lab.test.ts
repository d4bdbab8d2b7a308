// kind-lab/ cannot run here (no Docker engine, no kind): what can be checked is. The scripts pass
// shellcheck and `bash -n`; the files they use exist; the lab's addresses agree across kind-config,
// values, demo and scripts; the tor's generated frr.conf passes FRR's parser; the chart renders
// with the lab's values into a config the advertiser accepts; and verify.sh, fed real FRR 8.4.4
// JSON through fake docker/kubectl commands, accepts the right table and rejects wrong ones.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { parseConfig } from "../../sidecar/src/config/load-config.js";
import { ensureHelm, HELM, helmEnv } from "../chart/helm.js";
import { skippedWithout } from "../support/require-tool.js";

const REPO = join(import.meta.dirname, "..", "..");
const LAB = join(REPO, "kind-lab");
const SCRIPTS = readdirSync(LAB)
  .filter((f) => f.endsWith(".sh"))
  .sort();
const scratch = mkdtempSync(join(tmpdir(), "fa-kind-lab-"));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function sh(script: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync("bash", ["-c", script], { cwd: REPO, encoding: "utf8", env: { ...process.env, ...env } });
}

/** The lab's settings as lib.sh sets them. */
function labSetting(name: string): string {
  const r = sh(`source kind-lab/lib.sh && printf '%s' "$${name}"`);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

void test("the lab has up, verify and down scripts plus their shared lib", () => {
  assert.deepEqual(SCRIPTS, ["down.sh", "lib.sh", "up.sh", "verify.sh"]);
});

void test("every script passes shellcheck (following the sourced lib.sh)", (t) => {
  if (skippedWithout(t, "shellcheck")) return;
  for (const f of SCRIPTS) {
    const r = spawnSync("shellcheck", ["--external-sources", join("kind-lab", f)], {
      cwd: REPO,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `shellcheck kind-lab/${f}:\n${r.stdout}${r.stderr}`);
  }
});

void test("every script parses (bash -n); runnable ones are executable bash with set -euo pipefail", () => {
  for (const f of SCRIPTS) {
    const path = join(LAB, f);
    const parsed = spawnSync("bash", ["-n", path], { encoding: "utf8" });
    assert.equal(parsed.status, 0, `bash -n kind-lab/${f}: ${parsed.stderr}`);
    const text = readFileSync(path, "utf8");
    if (f === "lib.sh") {
      assert.match(
        text,
        /^# shellcheck shell=bash/,
        "lib.sh is sourced: no shebang, but shellcheck's dialect",
      );
      continue;
    }
    assert.ok(text.startsWith("#!/usr/bin/env bash\n"), `${f}: bash shebang`);
    assert.match(text, /^set -euo pipefail$/m, `${f}: set -euo pipefail`);
    assert.ok(statSync(path).mode & 0o111, `${f} is executable`);
    assert.match(text, /^source "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\.sh"$/m, `${f} sources lib.sh`);
  }
});

void test("the files the scripts use exist: values, demo manifests, kind config, tor files, chart, Dockerfile", () => {
  const referenced = new Set<string>();
  for (const f of SCRIPTS) {
    const text = readFileSync(join(LAB, f), "utf8");
    for (const m of text.matchAll(/\$(?:\{)?(LAB_DIR|REPO_DIR)(?:\})?\/([A-Za-z0-9._/-]+)/g)) {
      const path = join(m[1] === "LAB_DIR" ? LAB : REPO, m[2] ?? "");
      referenced.add(path.slice(REPO.length + 1));
      assert.ok(existsSync(path), `kind-lab/${f} uses ${m[0]}, which does not exist`);
    }
  }
  for (const needed of [
    "kind-lab/values-lab.yaml",
    "kind-lab/demo.yaml",
    "kind-lab/kind-config.yaml",
    "kind-lab/verify.py",
    "kind-lab/verify.sh",
    "kind-lab/tor/daemons",
    "kind-lab/tor/vtysh.conf",
    "chart/Chart.yaml",
    "Dockerfile",
    "image/build.sh",
  ]) {
    assert.ok(referenced.has(needed), `no script uses ${needed}`);
  }
  // The chart directory itself: helm gets "$REPO_DIR/chart".
  assert.ok(readFileSync(join(LAB, "up.sh"), "utf8").includes('"$REPO_DIR/chart"'));
  assert.ok(existsSync(join(REPO, "chart", "values.yaml")));
  assert.ok(existsSync(join(LAB, "README.md")));
});

void test("one image for all FRR: the lab's image runs the DaemonSet's containers and the tor", () => {
  const dockerfile = /^ARG FRR_VERSION=(\S+)$/m.exec(readFileSync(join(REPO, "Dockerfile"), "utf8"))?.[1];
  assert.ok(dockerfile !== undefined);
  assert.equal(labSetting("FRR_VERSION"), dockerfile);
  assert.equal(labSetting("FRR_IMAGE"), "frr-advertiser:lab");
  const up = readFileSync(join(LAB, "up.sh"), "utf8");
  assert.match(up, /IMAGE="\$image" bash "\$REPO_DIR\/image\/build\.sh"/, "built like `npm run image`");
  assert.match(
    up,
    /kind load image-archive/,
    "loaded through an archive (works with containerd's image store)",
  );
  assert.doesNotMatch(up, /^\s*kind load docker-image/m);
  assert.doesNotMatch(up, /frr\.image/, "the chart's default: frr runs the advertiser image");
  assert.match(up, /--entrypoint \/usr\/bin\/tini "\$FRR_IMAGE"/, "the tor runs the same image");
});

void test("the lab's addresses agree: kind-config, lib.sh, values-lab.yaml, demo.yaml", () => {
  const kindConfig = parseYaml(readFileSync(join(LAB, "kind-config.yaml"), "utf8")) as {
    networking: { serviceSubnet: string; ipFamily: string };
    nodes: { role: string }[];
  };
  const values = parseYaml(readFileSync(join(LAB, "values-lab.yaml"), "utf8")) as {
    config: {
      bgp: { asn: number; families: string[] };
      advertise: { allowedCidrs: string[]; namespaces: { include: string[] } };
    };
  };
  const serviceCidr = labSetting("SERVICE_CIDR");
  const lbPool = labSetting("LB_POOL");
  const demoNs = labSetting("DEMO_NAMESPACE");
  assert.equal(kindConfig.networking.serviceSubnet, serviceCidr);
  assert.equal(kindConfig.networking.ipFamily, "ipv4");
  const workers = kindConfig.nodes.filter((n) => n.role === "worker").length;
  assert.ok(
    kindConfig.nodes.length >= 2 && kindConfig.nodes.length <= 3 && workers >= 1,
    "2–3 nodes, at least one worker",
  );
  assert.deepEqual(values.config.advertise.allowedCidrs, [serviceCidr, lbPool]);
  assert.deepEqual(values.config.advertise.namespaces.include, [demoNs]);
  assert.deepEqual(values.config.bgp.families, ["ipv4"]);
  assert.notEqual(String(values.config.bgp.asn), labSetting("TOR_ASN"), "eBGP: the tor has its own ASN");

  const services = demoServices();
  assert.ok(
    services.some((s) => s.spec.type === "LoadBalancer" && s.spec.externalTrafficPolicy === "Local"),
    "an ETP=Local LoadBalancer",
  );
  for (const s of services) {
    assert.equal(s.metadata.namespace, demoNs);
    assert.ok(
      inCidr(s.spec.clusterIP, serviceCidr),
      `${s.metadata.name}: ${s.spec.clusterIP} outside ${serviceCidr}`,
    );
    const lbIp = s.metadata.annotations?.["kind-lab/ingress-ip"];
    assert.equal(
      lbIp !== undefined,
      s.spec.type === "LoadBalancer",
      `${s.metadata.name}: kind-lab/ingress-ip exactly on LoadBalancers`,
    );
    if (lbIp !== undefined) assert.ok(inCidr(lbIp, lbPool), `${s.metadata.name}: ${lbIp} outside ${lbPool}`);
    for (const key of Object.keys(s.metadata.annotations ?? {}).filter((k) =>
      k.startsWith("frr-advertiser.io/"),
    )) {
      // An unknown key makes the advertiser skip the Service (fail closed): only documented ones.
      assert.ok(
        ["frr-advertiser.io/advertise", "frr-advertiser.io/communities"].includes(key),
        `${s.metadata.name}: ${key}`,
      );
    }
  }
  for (const doc of demoDocs())
    assert.ok(
      doc.kind === "Namespace" || doc.metadata.namespace === demoNs,
      `${doc.kind} ${doc.metadata.name}`,
    );
});

void test("the tor's frr.conf (rendered by up.sh from the nodes) passes FRR's parser", (t) => {
  if (skippedWithout(t, "vtysh")) return;
  const bin = fakeBin({
    kubectl: `printf 'frr-lab-control-plane 172.18.0.3\\nfrr-lab-worker 172.18.0.2\\nfrr-lab-worker2 172.18.0.4\\n'`,
  });
  const r = sh(`source kind-lab/up.sh && render_tor_conf 172.18.0.0/16`, {
    PATH: `${bin}:${process.env["PATH"] ?? ""}`,
  });
  assert.equal(r.status, 0, r.stderr);
  const conf = r.stdout;
  assert.match(conf, /^ bgp listen range 172\.18\.0\.0\/16 peer-group NODES$/m);
  assert.match(conf, /^router bgp 64500$/m);
  assert.match(conf, /^!\s+frr-lab-worker2 172\.18\.0\.4$/m);
  assert.match(
    conf,
    new RegExp(
      `^ip prefix-list SERVICES seq 10 permit ${labSetting("SERVICE_CIDR").replace(/\./g, "\\.")} ge 32$`,
      "m",
    ),
  );
  const file = join(scratch, "tor-frr.conf");
  writeFileSync(file, conf);
  const dry = spawnSync("vtysh", ["--dryrun", "-f", file], { encoding: "utf8" });
  assert.equal(dry.status, 0, `vtysh --dryrun:\n${dry.stdout}${dry.stderr}`);

  const outside = sh(`source kind-lab/up.sh && render_tor_conf 10.0.0.0/24`, {
    PATH: `${bin}:${process.env["PATH"] ?? ""}`,
  });
  assert.notEqual(outside.status, 0);
  assert.match(
    outside.stderr,
    /node frr-lab-control-plane \(172\.18\.0\.3\) is not on kind's network 10\.0\.0\.0\/24/,
  );
});

void test("up.sh's in_cidr", () => {
  const cases: [string, string, boolean][] = [
    ["172.18.0.3", "172.18.0.0/16", true],
    ["172.18.255.255", "172.18.0.0/16", true],
    ["172.19.0.1", "172.18.0.0/16", false],
    ["10.0.0.1", "0.0.0.0/0", true],
    ["10.0.0.1", "10.0.0.1/32", true],
    ["10.0.0.2", "10.0.0.1/32", false],
  ];
  for (const [ip, cidr, want] of cases) {
    assert.equal(sh(`source kind-lab/up.sh && in_cidr ${ip} ${cidr}`).status === 0, want, `${ip} in ${cidr}`);
  }
});

void test("the chart renders with the lab's values into a config the advertiser accepts", async (t) => {
  if (skippedWithout(t, HELM)) return;
  const helm = ensureHelm();
  const args = sh(
    `source kind-lab/up.sh && set_chart_values 172.18.0.9 && printf '%s\\0' "\${CHART_VALUES[@]}"`,
  );
  assert.equal(args.status, 0, args.stderr);
  const r = spawnSync(
    helm,
    [
      "template",
      "frr-advertiser",
      join(REPO, "chart"),
      "--namespace",
      "frr-system",
      ...args.stdout.split("\0").filter(Boolean),
    ],
    {
      encoding: "utf8",
      env: helmEnv(scratch),
    },
  );
  assert.equal(r.status, 0, `helm template:\n${r.stderr}`);
  type Container = { name: string; image: string; imagePullPolicy: string };
  const docs = parseAllDocuments(r.stdout).map(
    (d) =>
      d.toJS() as { kind: string; metadata: { name: string }; data?: Record<string, string>; spec?: unknown },
  );
  const ds = docs.find((d) => d.kind === "DaemonSet") as
    { spec: { template: { spec: { containers: Container[] } } } } | undefined;
  assert.ok(ds);
  const containers = new Map(ds.spec.template.spec.containers.map((c) => [c.name, c]));
  assert.equal(containers.get("advertiser")?.image, "frr-advertiser:lab");
  assert.equal(containers.get("advertiser")?.imagePullPolicy, "Never", "kind load'ed, never pulled");
  assert.equal(
    containers.get("frr")?.image,
    labSetting("FRR_IMAGE"),
    "the daemons run the FRR the image was built with",
  );

  const text = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name.endsWith("-config"))?.data?.[
    "config.yaml"
  ];
  assert.ok(text !== undefined);
  const config = await parseConfig(text, "lab config.yaml", { NODE_NAME: "frr-lab-worker" }, () =>
    Promise.reject(new Error("no secrets in the lab")),
  );
  assert.deepEqual(
    config.bgp.neighbors.map((n) => [n.address, n.remoteAs]),
    [["172.18.0.9", Number(labSetting("TOR_ASN"))]],
  );
  assert.deepEqual(config.policy.allowedCidrs, [labSetting("SERVICE_CIDR"), labSetting("LB_POOL")]);
  assert.deepEqual(config.policy.includeNamespaces, [labSetting("DEMO_NAMESPACE")]);
  assert.equal(config.mode, "network");
});

// ---- verify.sh against fake docker and kubectl, with FRR 8.4.4's real JSON shapes ---------------

interface Scenario {
  /** prefix → node names the tor has it from */
  routes: Record<string, string[]>;
  /** node names with an Established session */
  sessions: string[];
}

const NODES = {
  "frr-lab-control-plane": "172.18.0.3",
  "frr-lab-worker": "172.18.0.2",
  "frr-lab-worker2": "172.18.0.4",
};
/** Where the demo's pods run in this scenario (replicas per Deployment in demo.yaml). */
const PODS: Record<string, string[]> = {
  web: ["frr-lab-worker", "frr-lab-worker2"],
  api: ["frr-lab-worker", "frr-lab-worker2"],
  ingress: ["frr-lab-worker2"],
  idle: [],
  legacy: ["frr-lab-worker"],
};
const BOTH = ["frr-lab-worker", "frr-lab-worker2"];
/** What the tor must have: the control plane is excluded; ETP=Local only from the pod's node. */
const HEALTHY: Scenario = {
  routes: {
    "10.96.0.110/32": BOTH,
    "10.96.0.120/32": BOTH,
    "198.51.100.20/32": BOTH,
    "10.96.0.130/32": BOTH,
    "198.51.100.30/32": ["frr-lab-worker2"],
  },
  sessions: Object.keys(NODES),
};

function runVerify(s: Scenario): SpawnSyncReturns<string> {
  const dir = mkdtempSync(join(scratch, "verify-"));
  const routeTemplate = JSON.parse(
    readFileSync(join(import.meta.dirname, "fixtures/tor-routes.json"), "utf8"),
  ) as {
    routes: Record<string, Record<string, unknown>[]>;
  };
  const summary = JSON.parse(
    readFileSync(join(import.meta.dirname, "fixtures/tor-summary.json"), "utf8"),
  ) as { peers: Record<string, Record<string, unknown>> };
  const path = Object.values(routeTemplate.routes)[0]![0]!;
  const peer = Object.values(summary.peers)[0]!;
  const ip = (n: string) => NODES[n as keyof typeof NODES];
  const routes = Object.fromEntries(
    Object.entries(s.routes).map(([prefix, from]) => [
      prefix,
      from.map((n) => ({
        ...path,
        prefix: prefix.split("/")[0],
        network: prefix,
        peerId: ip(n),
        nexthops: [{ ip: ip(n), hostname: n, afi: "ipv4", used: true }],
      })),
    ]),
  );
  writeFileSync(join(dir, "routes.json"), JSON.stringify({ ...routeTemplate, routes }));
  writeFileSync(
    join(dir, "summary.json"),
    JSON.stringify({
      ...summary,
      peers: Object.fromEntries(s.sessions.map((n) => [ip(n), { ...peer, hostname: n }])),
    }),
  );
  writeFileSync(join(dir, "nodes.json"), JSON.stringify(kubeNodes()));
  writeFileSync(join(dir, "objects.json"), JSON.stringify(kubeObjects()));
  const bin = fakeBin({
    kubectl: `case "$*" in
  *" get nodes "*) cat "${dir}/nodes.json" ;;
  *" get services,endpointslices "*) cat "${dir}/objects.json" ;;
  *) echo "fake kubectl: $*" >&2; exit 1 ;;
esac`,
    docker: `case "$1" in
  inspect) echo running ;;
  exec)
    shift; [ "$1" = -i ] && shift; shift
    case "$*" in
      "vtysh "*summary*) cat "${dir}/summary.json" ;;
      "vtysh "*) cat "${dir}/routes.json" ;;
      "python3 "*) shift; exec python3 "$@" ;;
      *) echo "fake docker exec: $*" >&2; exit 1 ;;
    esac ;;
  *) echo "fake docker: $*" >&2; exit 1 ;;
esac`,
  });
  return spawnSync(join(LAB, "verify.sh"), [], {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env["PATH"] ?? ""}`, VERIFY_TIMEOUT: "0" },
  });
}

void test("verify.sh passes when the tor has exactly the healthy Services' IPs from the right nodes", (t) => {
  if (skippedWithout(t, "python3")) return;
  const r = runVerify(HEALTHY);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^OK: the tor's routes match the healthy Services \(5 prefixes\)$/m);
  assert.match(r.stdout, /^198\.51\.100\.30\/32\s+frr-lab-worker2\s+frr-lab-worker2$/m);
});

void test("verify.sh fails on a missing, an extra or a misplaced route, and on a missing session", (t) => {
  if (skippedWithout(t, "python3")) return;
  const cases: [string, Scenario, RegExp][] = [
    [
      "missing",
      { ...HEALTHY, routes: { ...HEALTHY.routes, "10.96.0.110/32": [] } },
      /10\.96\.0\.110\/32 missing at the tor \(expected from frr-lab-worker, frr-lab-worker2\)/,
    ],
    [
      "unhealthy advertised",
      { ...HEALTHY, routes: { ...HEALTHY.routes, "10.96.0.140/32": ["frr-lab-worker"] } },
      /10\.96\.0\.140\/32 at the tor from frr-lab-worker but must not be advertised/,
    ],
    [
      "opted out advertised",
      { ...HEALTHY, routes: { ...HEALTHY.routes, "10.96.0.150/32": BOTH } },
      /10\.96\.0\.150\/32 at the tor/,
    ],
    [
      "ETP=Local from a node without the pod",
      { ...HEALTHY, routes: { ...HEALTHY.routes, "198.51.100.30/32": BOTH } },
      /198\.51\.100\.30\/32 from frr-lab-worker, frr-lab-worker2, expected from frr-lab-worker2/,
    ],
    [
      "excluded control plane advertising",
      { ...HEALTHY, routes: { ...HEALTHY.routes, "10.96.0.110/32": [...BOTH, "frr-lab-control-plane"] } },
      /10\.96\.0\.110\/32 from frr-lab-control-plane/,
    ],
    [
      "no session",
      { ...HEALTHY, sessions: BOTH },
      /node frr-lab-control-plane \(172\.18\.0\.3\) has no established BGP session/,
    ],
  ];
  for (const [name, scenario, message] of cases) {
    const r = runVerify(scenario);
    assert.equal(r.status, 1, `${name}: ${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, message, name);
    assert.match(r.stderr, /the tor's routes do not match the healthy Services/, name);
  }
});

// ---- fixtures from demo.yaml ------------------------------------------------------------------------

interface DemoDoc {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec: { type: string; clusterIP: string; externalTrafficPolicy?: string; replicas?: number };
}

function demoDocs(): DemoDoc[] {
  return parseAllDocuments(readFileSync(join(LAB, "demo.yaml"), "utf8")).map((d) => d.toJS() as DemoDoc);
}

function demoServices(): DemoDoc[] {
  return demoDocs().filter((d) => d.kind === "Service");
}

function kubeNodes(): unknown {
  return {
    items: Object.entries(NODES).map(([name, address]) => ({
      metadata: {
        name,
        labels: name.includes("control-plane")
          ? { "node.kubernetes.io/exclude-from-external-load-balancers": "" }
          : {},
      },
      status: { addresses: [{ type: "InternalIP", address }] },
    })),
  };
}

/** demo.yaml's Services as the API shows them (LB status patched), with one slice per Service. */
function kubeObjects(): unknown {
  const deployments = new Map(
    demoDocs()
      .filter((d) => d.kind === "Deployment")
      .map((d) => [d.metadata.name, d.spec.replicas ?? 1]),
  );
  const items: unknown[] = [];
  for (const s of demoServices()) {
    const name = s.metadata.name;
    const pods = PODS[name];
    assert.ok(pods !== undefined, `the scenario places no pods of ${name}`);
    assert.equal(pods.length, deployments.get(name), `${name}: replicas in demo.yaml`);
    const lbIp = s.metadata.annotations?.["kind-lab/ingress-ip"];
    items.push({
      kind: "Service",
      metadata: s.metadata,
      spec: { ...s.spec, clusterIPs: [s.spec.clusterIP] },
      status: { loadBalancer: lbIp !== undefined ? { ingress: [{ ip: lbIp }] } : {} },
    });
    items.push({
      kind: "EndpointSlice",
      metadata: {
        name: `${name}-abcde`,
        namespace: s.metadata.namespace,
        labels: { "kubernetes.io/service-name": name },
      },
      addressType: "IPv4",
      endpoints: pods.map((node, i) => ({
        addresses: [`10.244.${i + 1}.${i + 10}`],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: node,
      })),
    });
  }
  return { apiVersion: "v1", kind: "List", items };
}

// ---- helpers ------------------------------------------------------------------------------------

/** A directory of fake commands (sh scripts) to put first on PATH. */
function fakeBin(commands: Record<string, string>): string {
  const dir = mkdtempSync(join(scratch, "bin-"));
  for (const [name, body] of Object.entries(commands)) {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
  }
  return dir;
}

function inCidr(ip: string, cidr: string): boolean {
  const toInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
  const [net = "", bits = "32"] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(net) / size);
}
