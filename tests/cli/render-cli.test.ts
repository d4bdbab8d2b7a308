// The `render` CLI as a user runs it: a real process, real files, exit codes and output shapes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "..", "..");
const tmp = mkdtempSync(join(tmpdir(), "fa-cli-"));

function render(args: string[], input?: string) {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", join(REPO, "sidecar/src/main.ts"), "render", ...args],
    {
      cwd: REPO,
      encoding: "utf8",
      input,
    },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const base = ["--objects", "examples/cluster.yaml", "--config", "examples/config.yaml", "--node", "node-a"];

void test("text output is the frr.conf; --explain appends the verdicts as comments", () => {
  const plain = render(base);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^router bgp 64512$/m);
  assert.match(plain.stdout, /^ {2}network 10\.96\.10\.10\/32$/m);
  assert.doesNotMatch(plain.stdout, /verdicts/);
  assert.match(plain.stderr, /shop\/legacy: annotation frr-advertiser\.io\/communities="65000:x"/);
  const explained = render([...base, "--explain"]);
  assert.ok(explained.stdout.startsWith(plain.stdout));
  assert.match(
    explained.stdout,
    /^! edge\/ingress 203\.0\.113\.30 loadBalancer: skip \(not advertised: externalTrafficPolicy=Local/m,
  );
  for (const line of explained.stdout.slice(plain.stdout.length).split("\n").filter(Boolean))
    assert.match(line, /^!/);
});

void test("--output json prints exactly one object with the documented shape", () => {
  const r = render([...base, "--output", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    frrConf: string;
    decisions: { service: string; address: string; kind: string; advertise: boolean; reason: string }[];
    problems: string[];
  };
  assert.deepEqual(Object.keys(out).sort(), ["decisions", "frrConf", "problems"]);
  for (const d of out.decisions)
    assert.deepEqual(Object.keys(d).sort(), ["address", "advertise", "kind", "reason", "service"]);
  const verdict = (s: string, a: string) => out.decisions.find((d) => d.service === s && d.address === a);
  // The cluster's real shapes: node-a has the api endpoints; ingress is ETP=Local on node-b only.
  assert.equal(verdict("shop/web", "10.96.10.10")?.advertise, true);
  assert.equal(verdict("shop/api", "fd00:10:96::20")?.advertise, true);
  assert.equal(verdict("edge/ingress", "10.96.30.30")?.advertise, true);
  assert.equal(verdict("edge/ingress", "203.0.113.30")?.advertise, false);
  assert.equal(verdict("infra/dns", "203.0.113.53")?.advertise, true);
  assert.equal(verdict("jobs/batch", "10.96.50.50")?.advertise, false);
  assert.equal(verdict("shop/partner", "198.51.100.70")?.kind, "externalIP");
  assert.equal(verdict("shop/partner", "198.51.100.70")?.advertise, false);
  assert.equal(verdict("shop/legacy", "10.96.60.60")?.advertise, false);
  assert.equal(verdict("kube-system/kube-dns", "10.96.0.10")?.advertise, false);
  assert.equal(out.problems.length, 1);
  assert.match(out.frrConf, /network 203\.0\.113\.53\/32 route-map FRRADV-A-/);
});

void test("node-c carries the exclusion label and advertises nothing", () => {
  const r = render([
    "--objects",
    "examples/cluster.yaml",
    "--config",
    "examples/config.yaml",
    "--node",
    "node-c",
    "--output",
    "json",
  ]);
  const out = JSON.parse(r.stdout) as { frrConf: string; decisions: { advertise: boolean }[] };
  assert.ok(out.decisions.length > 0);
  assert.ok(out.decisions.every((d) => !d.advertise));
  assert.doesNotMatch(out.frrConf, /^\s*network /m);
});

void test("objects from stdin, JSON input, and the built-in default config", () => {
  const json = JSON.stringify({
    kind: "List",
    items: [
      { kind: "Node", metadata: { name: "n1" } },
      { kind: "Service", metadata: { name: "s", namespace: "d" }, spec: { clusterIP: "10.0.0.5" } },
      {
        kind: "EndpointSlice",
        metadata: { name: "s-1", namespace: "d", labels: { "kubernetes.io/service-name": "s" } },
        addressType: "IPv4",
        endpoints: [{ addresses: ["10.244.0.5"] }],
      },
    ],
  });
  const r = render(["--objects", "-", "--node", "n1"], json);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /network 10\.0\.0\.5\/32/);
});

const bad: { name: string; args: string[]; input?: string; want: RegExp }[] = [
  {
    name: "missing file",
    args: ["--objects", "/nonexistent.yaml", "--node", "n"],
    want: /\/nonexistent\.yaml: cannot read the file/,
  },
  {
    name: "invalid YAML",
    args: ["--objects", "-", "--node", "n"],
    input: "kind: [",
    want: /stdin: invalid YAML\/JSON/,
  },
  {
    name: "unknown node",
    args: ["--objects", "examples/cluster.yaml", "--node", "nope"],
    want: /node "nope" not found \(nodes in the file: node-a, node-b, node-c\)/,
  },
  {
    name: "invalid config",
    args: ["--objects", "examples/cluster.yaml", "--node", "node-a", "--config", "CONFIG"],
    want: /invalid configuration:\n {2}- bgp\.asn: /,
  },
  { name: "missing --node", args: ["--objects", "examples/cluster.yaml"], want: /--node is required/ },
  { name: "bad --output", args: [...base, "--output", "xml"], want: /--output must be text or json/ },
];

writeFileSync(join(tmp, "bad-config.yaml"), "bgp: { asn: -1 }\nadvertise: { allowedCidrs: [10.0.0.0/8] }\n");

for (const c of bad) {
  void test(`bad input exits 2 with a clear message: ${c.name}`, () => {
    const args = c.args.map((a) => (a === "CONFIG" ? join(tmp, "bad-config.yaml") : a));
    const r = render(args, c.input);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, c.want);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    assert.equal(r.stdout, "");
  });
}

void test("kubectl output of a real cluster shape: verdicts per node", () => {
  const cfg = join(tmp, "real-config.yaml");
  writeFileSync(
    cfg,
    `bgp: { asn: 64512 }
advertise:
  allowedCidrs: [10.96.0.0/12, fd00:10:96::/108, 203.0.113.0/24, 2001:db8:feed::/64]
  excludedIps: [10.96.0.1]
node: { withdrawWhenUnschedulable: true }
`,
  );
  const verdicts = (nodeName: string) => {
    const r = render([
      "--objects",
      "tests/cli/fixtures/kubectl-get-all.yaml",
      "--config",
      cfg,
      "--node",
      nodeName,
      "--output",
      "json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      decisions: { service: string; address: string; advertise: boolean; reason: string }[];
    };
    return new Map(out.decisions.map((d) => [`${d.service} ${d.address}`, d.advertise]));
  };
  const w1 = verdicts("worker-1");
  assert.equal(w1.get("default/kubernetes 10.96.0.1"), false, "excluded IP");
  assert.equal(w1.get("ingress-nginx/ingress-nginx-controller 10.96.142.7"), true);
  assert.equal(w1.get("ingress-nginx/ingress-nginx-controller fd00:10:96::8e07"), true);
  assert.equal(
    w1.get("ingress-nginx/ingress-nginx-controller 203.0.113.10"),
    true,
    "ETP=Local with a ready endpoint here",
  );
  assert.equal(w1.get("ingress-nginx/ingress-nginx-controller 2001:db8:feed::10"), true);
  assert.equal(w1.get("db/postgres-headless None"), false);
  assert.equal(w1.get("monitoring/metrics 10.96.77.77"), false, "ITP=Local, endpoint on worker-2 only");
  // worker-2 is cordoned and the config withdraws cordoned nodes.
  const w2 = verdicts("worker-2");
  assert.ok([...w2.values()].every((v) => !v));
});

void test("--help on each command prints its usage and exits 0", () => {
  const help = render(["--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: frr-advertiser render --objects/);
  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", join(REPO, "sidecar/src/main.ts"), "run", "--help"],
    {
      cwd: REPO,
      encoding: "utf8",
    },
  );
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^usage: frr-advertiser run/);
});
