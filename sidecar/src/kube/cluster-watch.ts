// Mirrors Services, EndpointSlices and this Node into the ClusterStore: one Reflector per
// resource (paged list + watch), each object converted to its snapshot as it arrives.

import { KubeConfig } from "@kubernetes/client-node";
import type { Clock } from "../clock.js";
import type { EndpointSliceSnapshot, NodeSnapshot, ServiceSnapshot } from "../model/snapshot.js";
import { Reflector, type ReflectorSink } from "./reflector.js";
import { ApiWatch } from "./watch-stream.js";
import { toEndpointSliceSnapshot, toNodeSnapshot, toServiceSnapshot } from "./to-snapshot.js";

export interface ClusterSink {
  upsertService(s: ServiceSnapshot): void;
  deleteService(namespace: string, name: string): void;
  upsertSlice(s: EndpointSliceSnapshot): void;
  deleteSlice(namespace: string, name: string): void;
  setNode(n: NodeSnapshot | undefined): void;
  /** After a relist: forget what the new list no longer has. */
  retainServices(keys: ReadonlySet<string>): void;
  retainSlices(keys: ReadonlySet<string>): void;
}

export interface WatchLog {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

export interface ClusterWatchOptions {
  readonly nodeName: string;
  /** Called after every applied change (schedules a reconcile). */
  readonly onChange: () => void;
  readonly onRestart?: (resource: string) => void;
  readonly log: WatchLog;
  /** Times the informers' backoff. */
  readonly clock: Clock;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A list page that has not answered by then counts as failed (the resource relists with backoff). */
  readonly listTimeoutMs?: number;
  /** Objects per list page. */
  readonly pageSize?: number;
}

/** Loads in-cluster config inside a pod, KUBECONFIG (or ~/.kube/config) elsewhere. */
export function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  if (process.env["KUBERNETES_SERVICE_HOST"] !== undefined && process.env["KUBECONFIG"] === undefined)
    kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

export class ClusterWatch {
  private readonly reflectors: readonly Reflector<unknown>[];

  constructor(kc: KubeConfig, sink: ClusterSink, opts: ClusterWatchOptions) {
    const watch = new ApiWatch(kc);
    const common = (resource: string) => ({
      resource,
      log: opts.log,
      clock: opts.clock,
      pageSize: opts.pageSize,
      listTimeoutMs: opts.listTimeoutMs,
      minBackoffMs: opts.minBackoffMs,
      maxBackoffMs: opts.maxBackoffMs,
      onRestart: () => opts.onRestart?.(resource),
    });
    const changed = opts.onChange;
    /** A namespaced resource's sink: keys are "namespace/name". */
    const namespaced = <T>(
      upsert: (item: T) => void,
      remove: (namespace: string, name: string) => void,
      retain: (keys: ReadonlySet<string>) => void,
    ): ReflectorSink<T> => ({
      upsert,
      remove: (key) => {
        const at = key.indexOf("/");
        remove(key.slice(0, at), key.slice(at + 1));
      },
      retain,
      changed,
    });
    const services = namespaced<ServiceSnapshot>(
      sink.upsertService.bind(sink),
      sink.deleteService.bind(sink),
      sink.retainServices.bind(sink),
    );
    const slices = namespaced<EndpointSliceSnapshot>(
      sink.upsertSlice.bind(sink),
      sink.deleteSlice.bind(sink),
      sink.retainSlices.bind(sink),
    );
    const node: ReflectorSink<NodeSnapshot> = {
      upsert: (n) => {
        if (n.name === opts.nodeName) sink.setNode(n);
      },
      remove: (key) => {
        if (key === `/${opts.nodeName}`) sink.setNode(undefined);
      },
      retain: (keys) => {
        if (!keys.has(`/${opts.nodeName}`)) sink.setNode(undefined);
      },
      changed,
    };
    this.reflectors = [
      new Reflector(kc, watch, services, {
        ...common("services"),
        path: "/api/v1/services",
        convert: toServiceSnapshot,
      }),
      new Reflector(kc, watch, slices, {
        ...common("endpointslices"),
        path: "/apis/discovery.k8s.io/v1/endpointslices",
        convert: toEndpointSliceSnapshot,
      }),
      new Reflector(kc, watch, node, {
        ...common("node"),
        path: "/api/v1/nodes",
        fieldSelector: `metadata.name=${opts.nodeName}`,
        convert: toNodeSnapshot,
      }),
    ] as readonly Reflector<unknown>[];
  }

  /** True once every resource's latest list succeeded and no error is pending. */
  get synced(): boolean {
    return this.reflectors.every((r) => r.isSynced);
  }

  /** Starts every resource; resolves after each has tried its first list. */
  async start(): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }
}
