// End-to-end harness: a netns lab (node FRR + tor FRR over veth), a fake Kubernetes API server,
// and the real `frr-advertiser run` process wired to both; or a cluster of such nodes behind one tor
// sharing one API (createClusterSidecarLab). Everything is torn down by stop().

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { FakeKubeApi, writeKubeconfig, type KubeObject } from "../fakes/fake-kube-api.js";
import { createLab, type Lab } from "../lab/netns-lab.js";
import { execa } from "execa";
import { frrMounts, LAB_FRR_IMAGE, PODMAN_ENV } from "../lab/image-frr.js";
import { startApiProxy } from "../pod/pod-runner.js";

export const REPO = resolve(import.meta.dirname, "..", "..");
export const NODE = "node-a";
/** The Node names of a cluster lab's nodes, node 0 first (node 0 is NODE). */
export const NODE_NAMES: readonly string[] = ["node-a", "node-b", "node-c", "node-d"];
const NODE_BIN = process.execPath;
/** Inside the node's namespace (image mode): where the API proxy listens. */
const API_PROXY_PORT = 6443;

export interface SidecarLabOptions {
  readonly unnumbered?: boolean;
  readonly mode?: "network" | "connected";
  /**
   * advertise.interface, default lo. Any other name (≤ 13 characters) is created first, up, in
   * the node's namespace only: a node's dedicated service interface, gone with the namespace.
   * See addServiceInterface.
   */
  readonly serviceInterface?: string;
  readonly templateDir?: string;
  /** Merged over the generated config (top-level keys replaced). */
  readonly config?: Record<string, unknown>;
  /** Objects present before the sidecar starts (the Node is always added). */
  readonly objects?: readonly KubeObject[];
  /** advertise.weightedEcmp.enabled (default: the config's default, off). */
  readonly weightedEcmp?: boolean;
  /** advertise.localRoutes (default: the config's default, off). */
  readonly localRoutes?: boolean;
}

export interface LogLine {
  readonly msg?: string;
  readonly level?: string;
  readonly [k: string]: unknown;
}

/** Image mode (FA_LAB_FRR=image): the sidecar runs in a container inside the node's namespace. */
export interface SidecarContainer {
  readonly name: string;
  readonly netns: string;
}

export class SidecarProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  private exit: Promise<number | null>;
  port: number | undefined;

  constructor(
    readonly child: ChildProcess,
    /** Image mode: the container the sidecar runs in (the benchmark finds its processes by it). */
    readonly container?: SidecarContainer,
  ) {
    let buf = "";
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const parsed = JSON.parse(line) as LogLine;
          this.logs.push(parsed);
          if (parsed.msg === "serving /healthz /readyz /metrics" && typeof parsed["port"] === "number")
            this.port = parsed["port"];
        } catch {
          this.stderr.push(line);
        }
      }
    });
    child.stderr?.on("data", (d: Buffer) => this.stderr.push(d.toString()));
    this.exit = new Promise((res) => {
      child.once("exit", (code) => {
        // podman reports a container killed by a signal as 128 + the signal, as a shell does.
        res(container !== undefined && code !== null && code >= 128 ? null : code);
      });
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitForLog(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.find(pred);
      if (hit) return hit;
      if (!this.alive) throw new Error(`sidecar exited while waiting for ${what}:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${this.tail()}`);
      await sleep(20);
    }
  }

  tail(n = 30): string {
    return [...this.logs.slice(-n).map((l) => JSON.stringify(l)), ...this.stderr.slice(-10)].join("\n");
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.alive || this.child.pid === undefined) return;
    if (this.container === undefined) process.kill(this.child.pid, sig);
    else spawnSync("podman", ["kill", "--signal", sig, this.container.name], { env: PODMAN_ENV });
  }

  /** Resolves with the exit code (null when killed by a signal). */
  waitForExit(): Promise<number | null> {
    return this.exit;
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    if (this.port === undefined) throw new Error("sidecar has not reported its port yet");
    const url = `http://127.0.0.1:${this.port}${path}`;
    if (this.container !== undefined) {
      // Its server listens inside the node's namespace.
      const r = await execa(
        "ip",
        ["netns", "exec", this.container.netns, "curl", "-s", "-w", "\n%{http_code}", url],
        {
          reject: false,
          stdin: "ignore",
        },
      );
      const i = r.stdout.lastIndexOf("\n");
      return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
    }
    const r = await fetch(url);
    return { status: r.status, body: await r.text() };
  }
}

export class SidecarLab {
  sidecar: SidecarProcess | undefined;
  private started = 0;
  constructor(
    readonly lab: Lab,
    readonly api: FakeKubeApi,
    readonly dir: string,
    readonly configPath: string,
    readonly kubeconfig: string,
    private readonly proxy?: { stop(): void },
    /** NODE_NAME of this sidecar (its Node object). */
    readonly nodeName: string = NODE,
  ) {}

  get stateFile(): string {
    return join(this.dir, "addresses.json");
  }

  /**
   * Starts `frr-advertiser run` (through tsx, so the test runs the sources it ships).
   * `containerArgs` (image mode only): extra `podman run` options, e.g. mounts and `-e` variables
   * (the benchmark's call-counting wrappers); the tests pass none.
   */
  start(opts: { readonly containerArgs?: readonly string[] } = {}): SidecarProcess {
    if (LAB_FRR_IMAGE !== undefined) return this.startInImage(LAB_FRR_IMAGE, opts.containerArgs ?? []);
    const child = spawn(
      NODE_BIN,
      ["--import", "tsx", join(REPO, "sidecar/src/main.ts"), "run", "--config", this.configPath],
      {
        cwd: REPO,
        env: {
          ...process.env,
          KUBECONFIG: this.kubeconfig,
          NODE_NAME: this.nodeName,
          KUBERNETES_SERVICE_HOST: "",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.sidecar = new SidecarProcess(child);
    return this.sidecar;
  }

  /** FA_LAB_FRR=image: the image's sidecar (its vtysh and frr-reload.py: the daemons' release). */
  private startInImage(image: string, containerArgs: readonly string[]): SidecarProcess {
    const name = `${this.lab.nodeNs}-sidecar-${++this.started}`;
    const args = [
      "run",
      "--rm",
      "--pull",
      "never",
      "--name",
      name,
      "--network",
      `ns:/run/netns/${this.lab.nodeNs}`,
      "--cap-add",
      "NET_ADMIN",
      ...frrMounts(this.lab.nodeNs),
      "-v",
      `${REPO}:${REPO}:ro`,
      "-e",
      `KUBECONFIG=${this.kubeconfig}`,
      "-e",
      `NODE_NAME=${this.nodeName}`,
      ...containerArgs,
      image,
      "run",
      "--config",
      this.configPath,
    ];
    const child = spawn("podman", args, { env: PODMAN_ENV, stdio: ["ignore", "pipe", "pipe"] });
    this.sidecar = new SidecarProcess(child, { name, netns: this.lab.nodeNs });
    return this.sidecar;
  }

  /**
   * Runs `frr-advertiser ARGS` where this node's sidecar runs: the sources through tsx, or (with
   * FA_LAB_FRR=image) the image inside the node's namespace, with its vtysh and frr-reload.py (the
   * daemons' release) and the same config, kubeconfig and NODE_NAME. Asynchronous: the fake API
   * answers from this test process.
   */
  async cli(
    args: readonly string[],
  ): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }> {
    const argv =
      LAB_FRR_IMAGE === undefined
        ? [NODE_BIN, "--import", "tsx", join(REPO, "sidecar/src/main.ts"), ...args]
        : [
            "podman",
            "run",
            "--rm",
            "--pull",
            "never",
            "--network",
            `ns:/run/netns/${this.lab.nodeNs}`,
            ...frrMounts(this.lab.nodeNs),
            "-v",
            `${REPO}:${REPO}:ro`,
            "-e",
            `KUBECONFIG=${this.kubeconfig}`,
            "-e",
            `NODE_NAME=${this.nodeName}`,
            LAB_FRR_IMAGE,
            ...args,
          ];
    const [file = "", ...rest] = argv;
    const r = await execa(file, rest, {
      cwd: REPO,
      reject: false,
      timeout: 60_000,
      env: {
        ...(LAB_FRR_IMAGE === undefined ? {} : PODMAN_ENV),
        KUBECONFIG: this.kubeconfig,
        NODE_NAME: this.nodeName,
      },
    });
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  async waitReady(timeoutMs = 20000): Promise<void> {
    const s = this.sidecar;
    if (!s) throw new Error("not started");
    await s.waitForLog((l) => l.msg === "applied", timeoutMs, "the first apply");
  }

  /** Stops the sidecar gracefully (SIGTERM) and waits for it to exit. */
  async stopSidecar(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    const s = this.sidecar;
    if (!s?.alive) return s?.child.exitCode ?? null;
    s.signal(signal);
    return s.waitForExit();
  }

  /** Kills the sidecar (SIGKILL) and this node's API proxy; the lab and the API stay. */
  async stopProcesses(): Promise<void> {
    const s = this.sidecar;
    if (s?.alive && s.child.pid !== undefined) {
      s.signal("SIGKILL");
      await s.waitForExit();
    }
    this.proxy?.stop();
  }

  async stop(): Promise<void> {
    await this.stopProcesses();
    await this.api.stop().catch(() => undefined);
    await this.lab.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function createSidecarLab(opts: SidecarLabOptions = {}): Promise<SidecarLab> {
  const dir = await mkdtemp(join(tmpdir(), "fa-e2e-"));
  const lab = await createLab({ unnumbered: opts.unnumbered ?? false });
  // Image mode: the sidecar lives in the node's namespace and reaches the API through a proxy there.
  const api = new FakeKubeApi(LAB_FRR_IMAGE === undefined ? {} : { socketPath: join(dir, "api.sock") });
  try {
    const { url } = await api.start();
    api.upsert(node());
    for (const o of opts.objects ?? []) api.upsert(o);
    return await wireSidecar(lab, api, url, dir, NODE, opts);
  } catch (err) {
    await api.stop().catch(() => undefined);
    await lab.destroy();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * One node's sidecar, not started: its service interface, its API proxy (image mode, to the API's
 * socket `apiSocket`), its kubeconfig and config in `dir`. Shared by the one-node and cluster labs.
 */
async function wireSidecar(
  lab: Lab,
  api: FakeKubeApi,
  apiUrl: string,
  dir: string,
  nodeName: string,
  opts: SidecarLabOptions,
  apiSocket = join(dir, "api.sock"),
): Promise<SidecarLab> {
  const iface = opts.serviceInterface ?? "lo";
  let proxy: { stop(): void } | undefined;
  try {
    if (iface !== "lo") await addServiceInterface(lab.nodeNs, iface);
    let url = apiUrl;
    if (LAB_FRR_IMAGE !== undefined) {
      proxy = await startApiProxy(lab.nodeNs, API_PROXY_PORT, apiSocket);
      url = `http://127.0.0.1:${API_PROXY_PORT}`;
    }
    const kubeconfig = join(dir, "kubeconfig");
    await writeKubeconfig(url, kubeconfig);
    const configPath = join(dir, "config.yaml");
    const config = {
      nodeName,
      bgp: {
        asn: lab.nodeAsn,
        routerId: lab.nodeRouterId,
        neighbors: [
          lab.unnumbered
            ? { interface: lab.nodeIf, remoteAs: "external" }
            : { address: lab.torAddr4, remoteAs: "external" },
        ],
      },
      advertise: {
        mode: opts.mode ?? "network",
        interface: iface,
        // The image's sidecar already runs in the node's namespace.
        netns: LAB_FRR_IMAGE === undefined ? lab.nodeNs : "",
        stateFile: join(dir, "addresses.json"),
        allowedCidrs: ["10.96.0.0/12", "203.0.113.0/24", "fd00:96::/64"],
        excludedIps: ["10.96.0.1"],
        ...(opts.weightedEcmp === undefined ? {} : { weightedEcmp: { enabled: opts.weightedEcmp } }),
        ...(opts.localRoutes === undefined ? {} : { localRoutes: opts.localRoutes }),
      },
      frr: {
        templateDir: opts.templateDir ?? join(REPO, "frr-templates"),
        configFile: lab.confFile,
        pathspace: lab.nodeNs,
      },
      timings: {
        batchWindowMs: 20,
        frrPollIntervalMs: 200,
        resyncIntervalSeconds: 5,
        shutdownTimeoutSeconds: 10,
      },
      server: { address: "127.0.0.1", port: 0 },
      log: { level: "debug" },
      ...opts.config,
    };
    await writeFile(configPath, stringify(config));
    return new SidecarLab(lab, api, dir, configPath, kubeconfig, proxy, nodeName);
  } catch (err) {
    proxy?.stop();
    throw err;
  }
}

export interface ClusterSidecarLabOptions extends SidecarLabOptions {
  /** How many nodes (default 2, at most NODE_NAMES.length); every Node object is added. */
  readonly nodes?: number;
}

/**
 * Several nodes behind one tor (the lab's `nodes` option), one cluster: one fake API shared by
 * every node's sidecar, each with its own NODE_NAME (NODE_NAMES[i]), config, state file and FRR.
 * Services and EndpointSlices (endpoints' nodeName) then decide per node, as in a cluster.
 */
export class ClusterSidecarLab {
  constructor(
    readonly lab: Lab,
    readonly api: FakeKubeApi,
    readonly dir: string,
    /** Node i's sidecar (not started until start()); `nodes[i].lab` is lab.nodes[i]. */
    readonly nodes: readonly SidecarLab[],
  ) {}

  /** Kills every sidecar and proxy, stops the API, destroys the lab and the files. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stopProcesses()));
    await this.api.stop().catch(() => undefined);
    await this.lab.destroy();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export async function createClusterSidecarLab(
  opts: ClusterSidecarLabOptions = {},
): Promise<ClusterSidecarLab> {
  const count = opts.nodes ?? 2;
  const names = NODE_NAMES.slice(0, count);
  if (names.length !== count) throw new Error(`at most ${NODE_NAMES.length} nodes`);
  const dir = await mkdtemp(join(tmpdir(), "fa-e2e-"));
  const lab = await createLab({ unnumbered: opts.unnumbered ?? false, nodes: count });
  const apiSocket = join(dir, "api.sock");
  const api = new FakeKubeApi(LAB_FRR_IMAGE === undefined ? {} : { socketPath: apiSocket });
  const nodes: SidecarLab[] = [];
  try {
    const { url } = await api.start();
    for (const name of names) api.upsert(nodeNamed(name));
    for (const o of opts.objects ?? []) api.upsert(o);
    for (const [i, name] of names.entries()) {
      const view = lab.nodes[i];
      if (view === undefined) throw new Error(`the lab has no node ${i}`);
      const nodeDir = join(dir, name);
      await mkdir(nodeDir);
      nodes.push(await wireSidecar(view, api, url, nodeDir, name, opts, apiSocket));
    }
    return new ClusterSidecarLab(lab, api, dir, nodes);
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stopProcesses()));
    await api.stop().catch(() => undefined);
    await lab.destroy();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A dummy interface, as nodes use for service addresses; where the kernel has no dummy driver (some
 * container hosts), one end of a veth pair whose other end (`NAME-p`) stays in the same namespace:
 * both up, so the interface has carrier and zebra treats its connected routes as active.
 */
async function addServiceInterface(ns: string, name: string): Promise<void> {
  const dummy = await execa("ip", ["-n", ns, "link", "add", name, "type", "dummy"], { reject: false });
  if (dummy.exitCode !== 0) {
    await execa("ip", ["-n", ns, "link", "add", name, "type", "veth", "peer", "name", `${name}-p`]);
    await execa("ip", ["-n", ns, "link", "set", `${name}-p`, "up"]);
  }
  await execa("ip", ["-n", ns, "link", "set", name, "up"]);
}

// ------------------------------------------------------------------ Kubernetes object builders

export function node(labels: Record<string, string> = {}, extra: Record<string, unknown> = {}): KubeObject {
  return nodeNamed(NODE, labels, extra);
}

/** A Node object of another name (a cluster lab's NODE_NAMES). */
export function nodeNamed(
  name: string,
  labels: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels },
    spec: {},
    ...extra,
  } as KubeObject;
}

export interface ServiceOptions {
  readonly namespace?: string;
  readonly clusterIPs?: readonly string[];
  readonly lbIPs?: readonly string[];
  readonly etp?: "Local" | "Cluster";
  readonly annotations?: Record<string, string>;
}

export function service(name: string, o: ServiceOptions = {}): KubeObject {
  const clusterIPs = o.clusterIPs ?? [];
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: o.namespace ?? "default", annotations: o.annotations ?? {} },
    spec: {
      type: o.lbIPs ? "LoadBalancer" : "ClusterIP",
      clusterIP: clusterIPs[0] ?? "None",
      clusterIPs: clusterIPs.length > 0 ? clusterIPs : ["None"],
      externalTrafficPolicy: o.lbIPs ? (o.etp ?? "Cluster") : undefined,
    },
    status: { loadBalancer: { ingress: (o.lbIPs ?? []).map((ip) => ({ ip })) } },
  } as KubeObject;
}

export interface EndpointOptions {
  readonly ready?: boolean;
  readonly nodeName?: string;
  readonly family?: "IPv4" | "IPv6";
  readonly namespace?: string;
}

export function slice(
  svc: string,
  endpoints: readonly EndpointOptions[],
  sliceName = `${svc}-1`,
  o: EndpointOptions = {},
): KubeObject {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: sliceName,
      namespace: o.namespace ?? "default",
      labels: { "kubernetes.io/service-name": svc },
    },
    addressType: o.family ?? "IPv4",
    endpoints: endpoints.map((e, i) => ({
      addresses: [o.family === "IPv6" ? `fd00:244::${i + 1}` : `10.244.0.${i + 1}`],
      conditions: { ready: e.ready ?? true },
      nodeName: e.nodeName ?? NODE,
    })),
  } as KubeObject;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
