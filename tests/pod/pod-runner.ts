// Plays the kubelet for one pod of the chart's DaemonSet with podman: init containers in order,
// then the containers, exactly as the rendered manifest says (command/args, env, volumes and
// mounts, securityContext, probes, preStop), with hostNetwork played by a network namespace.
// Not a test itself. Every container it starts is removed by its id in remove().

import { spawn } from "node:child_process";
import { mkdir, readlink, realpath, rename, symlink, writeFile, chmod, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { execa } from "execa";
import type { ContainerSpec, PodSpec, Probe, Volume, VolumeMount } from "../chart/pod-spec-types.js";

export type { ContainerSpec, PodSpec, Probe };

export interface PodRunnerOptions {
  readonly pod: PodSpec;
  readonly podName: string;
  readonly nodeName: string;
  /** The network namespace that plays the node (hostNetwork). */
  readonly netns: string;
  /** Where volumes, the service account and hostPaths live on this machine. */
  readonly dir: string;
  readonly configMaps: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly secrets?: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** What the kubelet injects: KUBERNETES_SERVICE_HOST/PORT and the service account files. */
  readonly apiHost: string;
  readonly apiPort: number;
  readonly serviceAccount: { readonly token: string; readonly caCert: string; readonly namespace: string };
  /** podman's environment (CONTAINERS_CONF). */
  readonly podmanEnv?: NodeJS.ProcessEnv;
}

/** containerd's default capability set: what a container keeps unless it drops them. */
const RUNTIME_DEFAULT_CAPS = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FSETID",
  "FOWNER",
  "MKNOD",
  "NET_RAW",
  "SETGID",
  "SETUID",
  "SETFCAP",
  "SETPCAP",
  "NET_BIND_SERVICE",
  "SYS_CHROOT",
  "KILL",
  "AUDIT_WRITE",
];
const SA_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";

export class PodRunner {
  /** container name → podman id */
  readonly ids = new Map<string, string>();
  private readonly saDir: string;

  constructor(private readonly o: PodRunnerOptions) {
    this.saDir = join(o.dir, "serviceaccount");
  }

  private podman(args: readonly string[], opts: { reject?: boolean; timeoutMs?: number } = {}) {
    return execa("podman", [...args], {
      reject: opts.reject ?? true,
      env: { ...process.env, ...this.o.podmanEnv },
      timeout: opts.timeoutMs ?? 120_000,
      stdin: "ignore",
    });
  }

  /** Volumes, then init containers one after another (each must exit 0), then the containers. */
  async start(): Promise<void> {
    await mkdir(this.saDir, { recursive: true });
    await writeFile(join(this.saDir, "token"), this.o.serviceAccount.token);
    await writeFile(join(this.saDir, "ca.crt"), this.o.serviceAccount.caCert);
    await writeFile(join(this.saDir, "namespace"), this.o.serviceAccount.namespace);
    for (const v of this.o.pod.volumes ?? []) await this.makeVolume(v);
    for (const c of this.o.pod.initContainers ?? []) {
      const r = await this.podman(["run", "--rm", ...(await this.runArgs(c, "init")), ...this.cmdArgs(c)], {
        reject: false,
      });
      if (r.exitCode !== 0)
        throw new Error(`init container ${c.name} exited ${r.exitCode}:\n${r.stdout}\n${r.stderr}`);
    }
    for (const c of this.o.pod.containers) {
      const r = await this.podman(["run", "-d", ...(await this.runArgs(c, "main")), ...this.cmdArgs(c)]);
      this.ids.set(c.name, r.stdout.trim());
    }
  }

  container(name: string): ContainerSpec {
    const c = this.o.pod.containers.find((x) => x.name === name);
    if (c === undefined) throw new Error(`no container ${name} in the pod`);
    return c;
  }

  id(name: string): string {
    const id = this.ids.get(name);
    if (id === undefined) throw new Error(`container ${name} not started`);
    return id;
  }

  exec(name: string, argv: readonly string[], timeoutMs = 30_000) {
    return this.podman(["exec", this.id(name), ...argv], { reject: false, timeoutMs });
  }

  logs(name: string) {
    return this.podman(["logs", this.id(name)], { reject: false });
  }

  /** One run of a probe, as the kubelet runs it: true when it succeeds. */
  async probe(name: string, kind: "startupProbe" | "livenessProbe" | "readinessProbe"): Promise<boolean> {
    const c = this.container(name);
    const p = c[kind];
    if (p === undefined) throw new Error(`${name} has no ${kind}`);
    const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
    if (p.exec !== undefined) return (await this.exec(name, p.exec.command, timeoutMs)).exitCode === 0;
    if (p.httpGet !== undefined) {
      const port =
        typeof p.httpGet.port === "number"
          ? p.httpGet.port
          : c.ports?.find((x) => x.name === p.httpGet?.port)?.containerPort;
      // hostNetwork: the kubelet reaches the port in the node's network namespace.
      const url = `http://127.0.0.1:${port}${p.httpGet.path}`;
      const r = await execa(
        "ip",
        [
          "netns",
          "exec",
          this.o.netns,
          "curl",
          "-fsS",
          "-o",
          "/dev/null",
          "-m",
          String(timeoutMs / 1000),
          url,
        ],
        { reject: false, stdin: "ignore" },
      );
      return r.exitCode === 0;
    }
    throw new Error(`${name} ${kind}: neither exec nor httpGet`);
  }

  /** GET `path` from the container's named port in the node's namespace (hostNetwork): the body. */
  async httpGet(name: string, portName: string, path: string): Promise<string> {
    const port = this.container(name).ports?.find((x) => x.name === portName)?.containerPort;
    if (port === undefined) throw new Error(`${name} has no port ${portName}`);
    const r = await execa(
      "ip",
      ["netns", "exec", this.o.netns, "curl", "-fsS", "-m", "5", `http://127.0.0.1:${port}${path}`],
      { reject: false, stdin: "ignore" },
    );
    if (r.exitCode !== 0) throw new Error(`GET ${path} from ${name}: ${r.stderr}`);
    return r.stdout;
  }

  /** Exit code (and when) of a container that has exited, else undefined. */
  async exitOf(name: string): Promise<{ code: number; finishedAt: number } | undefined> {
    const r = await this.podman(
      [
        "inspect",
        "--format",
        "{{.State.Running}} {{.State.ExitCode}} {{.State.FinishedAt.UnixNano}}",
        this.id(name),
      ],
      { reject: false },
    );
    const [running, code, at] = r.stdout.trim().split(" ");
    if (running !== "false") return undefined;
    return { code: Number(code), finishedAt: Number(at) / 1e6 };
  }

  /**
   * Pod deletion as the kubelet does it: every container's preStop hook runs, each container gets
   * SIGTERM when its own hook has returned (at once without one), all within the grace period,
   * then SIGKILL. Resolves with each container's exit code.
   */
  async terminate(): Promise<Map<string, number>> {
    const grace = (this.o.pod.terminationGracePeriodSeconds ?? 30) * 1000;
    const deadline = Date.now() + grace;
    const codes = new Map<string, number>();
    await Promise.all(
      this.o.pod.containers.map(async (c) => {
        const hook = c.lifecycle?.preStop?.exec?.command;
        if (hook !== undefined) await this.exec(c.name, hook, Math.max(1, deadline - Date.now()));
        await this.podman(["kill", "--signal", "TERM", this.id(c.name)], { reject: false });
        const wait = await this.podman(["wait", this.id(c.name)], {
          reject: false,
          timeoutMs: Math.max(1000, deadline - Date.now()),
        });
        if (wait.exitCode !== 0 || wait.stdout.trim() === "") {
          await this.podman(["kill", "--signal", "KILL", this.id(c.name)], { reject: false });
          codes.set(c.name, 137);
        } else codes.set(c.name, Number(wait.stdout.trim()));
      }),
    );
    return codes;
  }

  /** Replaces a ConfigMap volume's content the way the kubelet does: a new dir, then ..data swapped. */
  async updateConfigMap(volumeName: string, data: Readonly<Record<string, string>>): Promise<void> {
    const v = (this.o.pod.volumes ?? []).find((x) => x.name === volumeName);
    if (v?.configMap === undefined) throw new Error(`no configMap volume ${volumeName}`);
    await this.writeAtomicDir(this.volumeDir(v.name), data, v.configMap.items, v.configMap.defaultMode);
  }

  async remove(): Promise<void> {
    for (const id of this.ids.values()) await this.podman(["rm", "-f", "-t", "0", id], { reject: false });
    this.ids.clear();
  }

  // ---- volumes

  private volumeDir(name: string): string {
    return join(this.o.dir, "volumes", name);
  }

  private hostPathDir(path: string): string {
    return join(this.o.dir, "host", path);
  }

  private async makeVolume(v: Volume): Promise<void> {
    if (v.emptyDir !== undefined) {
      await mkdir(this.volumeDir(v.name), { recursive: true });
      await chmod(this.volumeDir(v.name), 0o777); // as the kubelet creates emptyDirs
    } else if (v.hostPath !== undefined) {
      // Never the machine's real path: a directory of the test plays the node's filesystem.
      await mkdir(this.hostPathDir(v.hostPath.path), { recursive: true });
    } else if (v.configMap !== undefined) {
      const data = this.o.configMaps.get(v.configMap.name);
      if (data === undefined) throw new Error(`ConfigMap ${v.configMap.name} is not in the manifest`);
      await this.writeAtomicDir(this.volumeDir(v.name), data, v.configMap.items, v.configMap.defaultMode);
    } else if (v.secret !== undefined) {
      const data = this.o.secrets?.get(v.secret.secretName);
      if (data === undefined) throw new Error(`Secret ${v.secret.secretName} is not given to the pod test`);
      await this.writeAtomicDir(this.volumeDir(v.name), data, undefined, 0o400);
    } else throw new Error(`volume ${v.name}: kind not supported by the pod test`);
  }

  /**
   * The kubelet's atomic writer: files in a "..<stamp>" dir, "..data" → that dir, and one symlink
   * per top-level entry → "..data/<entry>". An update swaps "..data" with one rename.
   */
  private async writeAtomicDir(
    dir: string,
    data: Readonly<Record<string, string>>,
    items: readonly { key: string; path: string }[] | undefined,
    mode = 0o644,
  ): Promise<void> {
    await mkdir(dir, { recursive: true });
    const stamp = `..${Date.now()}_${Math.random().toString(36).slice(2, 8)}`;
    const files = items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const { key, path } of files) {
      const content = data[key];
      if (content === undefined) throw new Error(`key ${key} missing`);
      const file = join(dir, stamp, path);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, content);
      await chmod(file, mode);
    }
    let old: string | undefined;
    try {
      old = await readlink(join(dir, "..data"));
    } catch {
      old = undefined;
    }
    await symlink(stamp, join(dir, "..data_tmp"));
    await rename(join(dir, "..data_tmp"), join(dir, "..data"));
    for (const top of new Set(files.map((f) => f.path.split("/")[0] ?? f.path))) {
      try {
        await symlink(join("..data", top), join(dir, top));
      } catch {
        /* exists from an earlier version: it already points through ..data */
      }
    }
    if (old !== undefined) await rm(join(dir, old), { recursive: true, force: true });
  }

  // ---- container arguments

  private cmdArgs(c: ContainerSpec): string[] {
    return [c.image, ...(c.args ?? [])];
  }

  private async runArgs(c: ContainerSpec, kind: "init" | "main"): Promise<string[]> {
    const a: string[] = [
      "--name",
      `${this.o.podName}-${c.name}-${Math.random().toString(36).slice(2, 8)}`,
      "--pull",
      "never",
      "--network",
      `ns:/run/netns/${this.o.netns}`,
      "--hostname",
      this.o.nodeName,
      // podman's own init would be PID 1 otherwise: what the manifest says runs as PID 1.
      "--init=false",
    ];
    if (c.command !== undefined) a.push("--entrypoint", JSON.stringify(c.command));
    for (const e of this.env(c)) a.push("--env", e);
    a.push(...this.security(c));
    for (const g of this.o.pod.securityContext?.supplementalGroups ?? []) a.push("--group-add", String(g));
    if (this.o.pod.automountServiceAccountToken !== false) a.push("-v", `${this.saDir}:${SA_PATH}:ro`);
    for (const m of c.volumeMounts ?? []) a.push("-v", await this.mount(m));
    if (kind === "main") a.push("--stop-timeout", String(this.o.pod.terminationGracePeriodSeconds ?? 30));
    return a;
  }

  private env(c: ContainerSpec): string[] {
    const out = [
      `KUBERNETES_SERVICE_HOST=${this.o.apiHost}`,
      `KUBERNETES_SERVICE_PORT=${this.o.apiPort}`,
      `KUBERNETES_SERVICE_PORT_HTTPS=${this.o.apiPort}`,
    ];
    for (const e of c.env ?? []) {
      if (e.value !== undefined) out.push(`${e.name}=${e.value}`);
      else if (e.valueFrom?.fieldRef !== undefined)
        out.push(`${e.name}=${this.field(e.valueFrom.fieldRef.fieldPath)}`);
      else if (e.valueFrom?.secretKeyRef !== undefined) {
        const v = this.o.secrets?.get(e.valueFrom.secretKeyRef.name)?.[e.valueFrom.secretKeyRef.key];
        if (v === undefined) throw new Error(`${c.name}: secret ${e.valueFrom.secretKeyRef.name} not given`);
        out.push(`${e.name}=${v}`);
      } else throw new Error(`${c.name}: env ${e.name} of a kind the pod test does not know`);
    }
    return out;
  }

  private field(path: string): string {
    if (path === "spec.nodeName") return this.o.nodeName;
    if (path === "metadata.name") return this.o.podName;
    if (path === "metadata.namespace") return this.o.serviceAccount.namespace;
    throw new Error(`fieldRef ${path} not known to the pod test`);
  }

  private security(c: ContainerSpec): string[] {
    const sc = c.securityContext ?? {};
    const a: string[] = [];
    if (sc.runAsUser !== undefined) a.push("--user", `${sc.runAsUser}:${sc.runAsGroup ?? sc.runAsUser}`);
    if (sc.readOnlyRootFilesystem === true) a.push("--read-only", "--read-only-tmpfs=false");
    if (sc.allowPrivilegeEscalation === false) a.push("--security-opt", "no-new-privileges");
    const drop = new Set(sc.capabilities?.drop ?? []);
    const caps = new Set(drop.has("ALL") ? [] : RUNTIME_DEFAULT_CAPS.filter((x) => !drop.has(x)));
    for (const x of sc.capabilities?.add ?? []) caps.add(x);
    a.push("--cap-drop", "ALL");
    for (const x of caps) a.push("--cap-add", x);
    return a;
  }

  private async mount(m: VolumeMount): Promise<string> {
    const v = (this.o.pod.volumes ?? []).find((x) => x.name === m.name);
    if (v === undefined) throw new Error(`volumeMount ${m.name} has no volume`);
    let src = v.hostPath !== undefined ? this.hostPathDir(v.hostPath.path) : this.volumeDir(v.name);
    // subPath: the kubelet bind-mounts the resolved file (and it never sees later updates).
    if (m.subPath !== undefined) src = await realpath(join(src, m.subPath));
    return `${src}:${m.mountPath}${m.readOnly === true ? ":ro" : ""}`;
  }
}

/** A TCP listener inside `netns` that forwards every connection to a Unix socket (the fake API). */
export async function startApiProxy(
  netns: string,
  port: number,
  socketPath: string,
): Promise<{ stop(): void }> {
  const code = `
const net = require("node:net");
const [port, path] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(path);
  c.pipe(u).pipe(c);
  c.on("error", () => u.destroy());
  u.on("error", () => c.destroy());
}).listen(Number(port), "127.0.0.1", () => console.log("proxy listening"));
`;
  const child = spawn(
    "ip",
    ["netns", "exec", netns, process.execPath, "-e", code, String(port), socketPath],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error("the API proxy did not start"));
    }, 10_000);
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("proxy listening")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error("the API proxy exited"));
    });
  });
  return { stop };
}
