// The only user of @kubernetes/client-node's informers: watches Services, EndpointSlices and
// this Node, converts each object to a snapshot, and restarts informers that stop on errors.

import {
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  ListWatch,
  Watch,
  type KubernetesObject,
  type KubernetesListObject,
} from "@kubernetes/client-node";
import type { EndpointSliceSnapshot, NodeSnapshot, ServiceSnapshot } from "../model/snapshot.js";
import { withTimeout } from "../timeout.js";
import { toEndpointSliceSnapshot, toNodeSnapshot, toServiceSnapshot } from "./to-snapshot.js";

export interface ClusterSink {
  upsertService(s: ServiceSnapshot): void;
  deleteService(namespace: string, name: string): void;
  upsertSlice(s: EndpointSliceSnapshot): void;
  deleteSlice(namespace: string, name: string): void;
  setNode(n: NodeSnapshot | undefined): void;
  /** After a restarted informer's relist: forget what the new list no longer has. */
  retainServices(keys: ReadonlySet<string>): void;
  retainSlices(keys: ReadonlySet<string>): void;
}

export interface WatchLog {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

export interface ClusterWatchOptions {
  readonly nodeName: string;
  /** Called after every applied change (schedules a reconcile). */
  readonly onChange: () => void;
  readonly onRestart?: (resource: string) => void;
  readonly log: WatchLog;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /**
   * A list that has not answered by then counts as failed (the informer restarts with backoff).
   * client-node sets no timeout of its own: an API server that accepts the connection and never
   * answers would leave the informer waiting for ever, never synced and never retried.
   */
  readonly listTimeoutMs?: number;
}

/** Loads in-cluster config inside a pod, KUBECONFIG (or ~/.kube/config) elsewhere. */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  if (process.env["KUBERNETES_SERVICE_HOST"] !== undefined && process.env["KUBECONFIG"] === undefined)
    kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

interface Watched {
  readonly resource: string;
  readonly make: () => ListWatch<KubernetesObject>;
  informer: ListWatch<KubernetesObject> | undefined;
  synced: boolean;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
}

export class ClusterWatch {
  private readonly watched: Watched[];
  private stopping = false;

  constructor(
    kc: KubeConfig,
    private readonly sink: ClusterSink,
    private readonly opts: ClusterWatchOptions,
  ) {
    const core = kc.makeApiClient(CoreV1Api);
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const watch = new Watch(kc);
    const nodeSelector = `metadata.name=${opts.nodeName}`;
    const timeoutMs = opts.listTimeoutMs ?? 60_000;
    const list = <T>(p: Promise<T>) =>
      withTimeout(p, timeoutMs, `list did not answer within ${timeoutMs} ms`) as unknown as Promise<
        KubernetesListObject<KubernetesObject>
      >;
    this.watched = [
      this.entry(
        "services",
        () => new ListWatch("/api/v1/services", watch, () => list(core.listServiceForAllNamespaces()), false),
      ),
      this.entry(
        "endpointslices",
        () =>
          new ListWatch(
            "/apis/discovery.k8s.io/v1/endpointslices",
            watch,
            () => list(discovery.listEndpointSliceForAllNamespaces()),
            false,
          ),
      ),
      this.entry(
        "node",
        () =>
          new ListWatch(
            "/api/v1/nodes",
            watch,
            () => list(core.listNode({ fieldSelector: nodeSelector })),
            false,
            undefined,
            nodeSelector,
          ),
      ),
    ];
  }

  /** True once every informer's latest list succeeded. */
  get synced(): boolean {
    return this.watched.every((w) => w.synced);
  }

  /** Starts every informer; resolves after each has tried its first list. */
  async start(): Promise<void> {
    await Promise.all(this.watched.map((w) => this.startOne(w)));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.watched) {
      if (w.timer) clearTimeout(w.timer);
      await w.informer?.stop().catch(() => undefined);
    }
  }

  private entry(resource: string, make: () => ListWatch<KubernetesObject>): Watched {
    return { resource, make, informer: undefined, synced: false, attempt: 0, timer: undefined };
  }

  private async startOne(w: Watched): Promise<void> {
    const informer = w.make();
    w.informer = informer;
    // Set from callbacks, so an object: TypeScript would narrow a plain `let` to false.
    const attempt = { failed: false };
    this.wire(w.resource, informer);
    informer.on("error", (err: unknown) => {
      attempt.failed = true;
      this.onInformerError(w, informer, err);
    });
    await informer.start().catch((err: unknown) => {
      attempt.failed = true;
      this.onInformerError(w, informer, err);
    });
    // start() resolves even when the list failed; only an error-free start counts as synced.
    if (!attempt.failed && w.informer === informer && !this.stopping) {
      // A fresh informer only reports what exists now; objects deleted while the watch was
      // down would never get a delete event, so drop them here.
      this.retain(w.resource, informer.list());
      w.synced = true;
      w.attempt = 0;
      this.opts.onChange();
    }
  }

  private onInformerError(w: Watched, informer: ListWatch<KubernetesObject>, err: unknown): void {
    // Our own stop() also emits an AbortError: not a reason to restart.
    if (this.stopping || w.informer !== informer || w.timer !== undefined) return;
    w.synced = false;
    const min = this.opts.minBackoffMs ?? 500;
    const delay = Math.min(this.opts.maxBackoffMs ?? 30000, min * 2 ** w.attempt);
    w.attempt++;
    this.opts.log.warn(
      { resource: w.resource, err: String(err), retryInMs: delay },
      "watch failed; restarting informer",
    );
    // The cache keeps its last content: what was healthy stays advertised meanwhile.
    w.timer = setTimeout(() => {
      w.timer = undefined;
      void informer.stop().catch(() => undefined);
      this.opts.onRestart?.(w.resource);
      void this.startOne(w);
    }, delay);
  }

  private wire(resource: string, informer: ListWatch<KubernetesObject>): void {
    const guard = (fn: (o: KubernetesObject) => void) => (o: KubernetesObject) => {
      // client-node 2.0.1 can re-open a stopped informer's watch after its backoff: events
      // from any informer but the current one are stale and dropped.
      const current = this.watched.find((w) => w.resource === resource)?.informer;
      if (this.stopping || current !== informer) return;
      // A throwing watch callback would become an unhandled rejection and kill the process.
      try {
        fn(o);
        this.opts.onChange();
      } catch (err) {
        this.opts.log.warn({ resource, object: describe(o), err: String(err) }, "ignoring unreadable object");
      }
    };
    const upsert = guard((o) => {
      this.upsert(resource, o);
    });
    informer.on("add", upsert);
    informer.on("update", upsert);
    informer.on(
      "delete",
      guard((o) => {
        this.remove(resource, o);
      }),
    );
  }

  private upsert(resource: string, o: KubernetesObject): void {
    if (resource === "services") this.sink.upsertService(toServiceSnapshot(o));
    else if (resource === "endpointslices") this.sink.upsertSlice(toEndpointSliceSnapshot(o));
    else if (o.metadata?.name === this.opts.nodeName) this.sink.setNode(toNodeSnapshot(o));
  }

  private retain(resource: string, objects: readonly KubernetesObject[]): void {
    const keys = new Set(
      objects.map((o) => `${o.metadata?.namespace ?? "default"}/${o.metadata?.name ?? ""}`),
    );
    if (resource === "services") this.sink.retainServices(keys);
    else if (resource === "endpointslices") this.sink.retainSlices(keys);
    else if (!objects.some((o) => o.metadata?.name === this.opts.nodeName)) this.sink.setNode(undefined);
  }

  private remove(resource: string, o: KubernetesObject): void {
    const ns = o.metadata?.namespace ?? "default";
    const name = o.metadata?.name ?? "";
    if (resource === "services") this.sink.deleteService(ns, name);
    else if (resource === "endpointslices") this.sink.deleteSlice(ns, name);
    else if (name === this.opts.nodeName) this.sink.setNode(undefined);
  }
}

function describe(o: KubernetesObject): string {
  return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? "?"}`;
}
