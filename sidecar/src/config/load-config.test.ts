// Config validation: every problem reported at once with its path; env overrides; defaults.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig, resolveMode } from "./load-config.js";

const noSecrets = (f: string) => Promise.reject(new Error(`no such file ${f}`));
const minimal = `
nodeName: n1
bgp: { asn: 64512 }
advertise: { allowedCidrs: [10.96.0.0/12] }
`;

async function problemsOf(text: string, env = {}): Promise<string[]> {
  try {
    await parseConfig(text, "cfg.yaml", env, noSecrets);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.problems];
  }
  return [];
}

test("a minimal config gets documented defaults and is frozen", async () => {
  const c = await parseConfig(minimal, "cfg.yaml", {}, noSecrets);
  assert.equal(c.mode, "network");
  assert.equal(c.interface, "lo");
  assert.deepEqual(c.policy.addressKinds, { clusterIP: true, loadBalancer: true, externalIP: false });
  assert.deepEqual(c.bgp.families, ["ipv4", "ipv6"]);
  assert.equal(c.bgp.hostname, "n1");
  assert.ok(Object.isFrozen(c.policy));
  assert.throws(() => {
    (c as { nodeName: string }).nodeName = "x";
  });
});

test("NODE_NAME and DRAIN from the environment win over the file", async () => {
  const c = await parseConfig(minimal, "cfg.yaml", { NODE_NAME: "worker-7", DRAIN: "true" }, noSecrets);
  assert.equal(c.nodeName, "worker-7");
  assert.equal(c.policy.drain, true);
});

const invalid: { name: string; text: string; want: RegExp[] }[] = [
  { name: "not YAML", text: "bgp: [", want: [/YAML/] },
  {
    name: "every problem at once, with paths",
    text: `
nodeName: n1
bgp: { asn: 0, neighbours: [] }
advertise: { allowedCidrs: [], mode: bgp }
timings: { batchWindowMs: -1 }
`,
    want: [
      /^bgp\.asn: /,
      /^bgp: unknown key\(s\) neighbours/,
      /^advertise\.allowedCidrs: /,
      /^advertise\.mode: /,
      /^timings\.batchWindowMs: /,
    ],
  },
  {
    name: "missing node name",
    text: "bgp: { asn: 1 }\nadvertise: { allowedCidrs: [10.0.0.0/8] }",
    want: [/^nodeName: required/],
  },
  {
    name: "every problem at once: a type error, a bad selector and a missing node name together",
    text: 'bgp: { asn: "x" }\nadvertise: { allowedCidrs: [10.0.0.0/8], serviceSelector: "a in (" }',
    want: [/^bgp\.asn: /, /^advertise\.serviceSelector: /, /^nodeName: required/],
  },
  {
    name: "ambiguous IPv4 forms refused",
    text: minimal.replace(
      "allowedCidrs: [10.96.0.0/12]",
      "allowedCidrs: [10.96.0.0/12], excludedIps: [10.0.0.01]",
    ),
    want: [/advertise\.excludedIps\.0: must be an IP/],
  },
  {
    name: "neighbour needs exactly one of address/interface",
    text: minimal.replace(
      "bgp: { asn: 64512 }",
      "bgp: { asn: 64512, neighbors: [{ remoteAs: external }, { address: 192.0.2.1, interface: eth0, remoteAs: 1 }] }",
    ),
    want: [/bgp\.neighbors\.0: set exactly one/, /bgp\.neighbors\.1: set exactly one/],
  },
  {
    name: "interface names cannot carry FRR syntax",
    text: minimal.replace("advertise: {", 'advertise: { interface: "lo\\n router bgp 1",'),
    want: [/advertise\.interface: must be a Linux interface name/],
  },
  {
    name: "bad label selector",
    text: minimal.replace("advertise: {", 'advertise: { serviceSelector: "a in (",'),
    want: [/advertise\.serviceSelector: /],
  },
  {
    name: "a neighbour's node selector is checked",
    text: minimal.replace(
      "bgp: { asn: 64512 }",
      'bgp: { asn: 64512, neighbors: [{ address: 192.0.2.1, remoteAs: external, nodeSelector: "rack in (" }] }',
    ),
    want: [/bgp\.neighbors\.0\.nodeSelector: /],
  },
  {
    name: "a neighbour's node names are node names",
    text: minimal.replace(
      "bgp: { asn: 64512 }",
      'bgp: { asn: 64512, neighbors: [{ address: 192.0.2.2, remoteAs: external, nodes: ["Node_A"] }] }',
    ),
    want: [/bgp\.neighbors\.0\.nodes\.0: must be a Kubernetes node name/],
  },
  {
    name: "unreadable password file",
    text: minimal.replace(
      "bgp: { asn: 64512 }",
      "bgp: { asn: 64512, neighbors: [{ address: 192.0.2.1, remoteAs: external, passwordFile: /nope }] }",
    ),
    want: [/bgp\.neighbors\.0\.passwordFile: cannot read \/nope/],
  },
];

for (const c of invalid) {
  test(`invalid config: ${c.name}`, async () => {
    const problems = await problemsOf(c.text);
    for (const re of c.want)
      assert.ok(
        problems.some((p) => re.test(p)),
        `${re} not in ${JSON.stringify(problems)}`,
      );
  });
}

test("a password with spaces or newlines is refused (it is written into frr.conf)", async () => {
  const text = minimal.replace(
    "bgp: { asn: 64512 }",
    "bgp: { asn: 64512, neighbors: [{ address: 192.0.2.1, remoteAs: external, passwordFile: /s }] }",
  );
  await assert.rejects(
    parseConfig(text, "c", {}, () => Promise.resolve("pw\n neighbor 1.2.3.4")),
    /passwordFile: \/s must hold/,
  );
  const ok = await parseConfig(text, "c", {}, () => Promise.resolve("s3cr&t!"));
  assert.equal(ok.bgp.neighbors[0]?.password, "s3cr&t!");
});

test("allowed CIDRs are normalised to their network", async () => {
  const c = await parseConfig(minimal.replace("10.96.0.0/12", "10.96.0.1/12"), "c", {}, noSecrets);
  assert.deepEqual(c.policy.allowedCidrs, ["10.96.0.0/12"]);
});

test("advertise.localRoutes: off by default; on only in network mode", async () => {
  assert.equal((await parseConfig(minimal, "c", {}, noSecrets)).localRoutes, false);
  const on = (advertise: string) =>
    parseConfig(minimal.replace("advertise: {", `advertise: { ${advertise}`), "c", {}, noSecrets);
  assert.equal((await on("localRoutes: true, ")).localRoutes, true);
  assert.deepEqual(
    await problemsOf(minimal.replace("advertise: {", "advertise: { localRoutes: true, mode: connected, ")),
    [
      "advertise.localRoutes needs network mode (advertise.mode is connected): connected mode announces the interface's addresses",
    ],
  );
  await assert.rejects(
    on("localRoutes: true, interface: svc0, "),
    /localRoutes needs network mode \(auto: interface svc0/,
  );
  assert.equal((await on("localRoutes: true, interface: svc0, mode: network, ")).localRoutes, true);
});

test("mode auto: network on lo, connected on a dedicated interface", () => {
  assert.equal(resolveMode("auto", "lo").mode, "network");
  assert.equal(resolveMode("auto", "kube-svc").mode, "connected");
  assert.equal(resolveMode("connected", "lo").mode, "connected");
});
