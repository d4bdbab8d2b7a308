// The Kubernetes cache: Services, their EndpointSlices and this Node as the model's snapshots
// (never whole API objects), plus which Services changed since the last reconcile.
// Watch callbacks only write here; a write that changes nothing the model reads marks nothing.

import { isDeepStrictEqual } from "node:util";
import type {
  EndpointSliceSnapshot,
  EndpointSnapshot,
  NodeSnapshot,
  ServiceSnapshot,
} from "../model/snapshot.js";
import { exactSize } from "../model/exact-size.js";

export class ClusterStore {
  private readonly services = new Map<string, ServiceSnapshot>();
  /**
   * service key → its slices (replaced, not changed, on every write); slices belong to the Service
   * in their own namespace. An array rather than a Map per Service: most have one slice, and a Map
   * costs 184 bytes before its first entry (docs/memory.md).
   */
  private readonly slicesByService = new Map<string, readonly EndpointSliceSnapshot[]>();
  private readonly serviceOfSlice = new Map<string, string>();
  private nodeSnapshot: NodeSnapshot | undefined;
  /**
   * One string per node name: 10k slices name the same few hundred nodes, and JSON.parse makes a
   * fresh copy of each. Bounded by the cluster's node count (cleared if it ever grows past that).
   */
  private readonly nodeNames = new Map<string, string>();
  private readonly dirty = new Set<string>();
  private allDirty = true;

  get node(): NodeSnapshot | undefined {
    return this.nodeSnapshot;
  }

  get serviceCount(): number {
    return this.services.size;
  }

  upsertService(svc: ServiceSnapshot): void {
    const key = `${svc.namespace}/${svc.name}`;
    // Status-only updates and fields the model does not read arrive as equal snapshots.
    if (isDeepStrictEqual(this.services.get(key), svc)) return;
    this.services.set(key, svc);
    this.touch(key);
  }

  deleteService(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    this.services.delete(key);
    this.touch(key);
  }

  upsertSlice(slice: EndpointSliceSnapshot): void {
    const sliceKey = `${slice.namespace}/${slice.name}`;
    const svcOf = this.serviceOfSlice.get(sliceKey);
    const before =
      svcOf === undefined ? undefined : this.slicesByService.get(svcOf)?.find((s) => s.name === slice.name);
    if (isDeepStrictEqual(before, slice)) return;
    this.removeSlice(sliceKey);
    if (slice.serviceName === undefined) return;
    const svcKey = `${slice.namespace}/${slice.serviceName}`;
    const kept: EndpointSliceSnapshot = {
      namespace: slice.namespace,
      name: slice.name,
      serviceName: slice.serviceName,
      addressType: slice.addressType,
      endpoints: slice.endpoints.map((e) => this.internNode(e)),
    };
    this.slicesByService.set(svcKey, exactSize([...(this.slicesByService.get(svcKey) ?? []), kept]));
    this.serviceOfSlice.set(sliceKey, svcKey);
    this.touch(svcKey);
  }

  deleteSlice(namespace: string, name: string): void {
    this.removeSlice(`${namespace}/${name}`);
  }

  setNode(node: NodeSnapshot | undefined): void {
    // The kubelet updates its Node every few seconds; the snapshot changes only with what we read.
    if (node !== undefined && isDeepStrictEqual(this.nodeSnapshot, node)) return;
    this.nodeSnapshot = node;
    // Every verdict depends on the node (exclusion, drain, local endpoints).
    this.allDirty = true;
  }

  /** Services to re-evaluate (all when the node changed), and resets the dirty marks. */
  takeDirty(): { all: boolean; keys: string[] } {
    const out = { all: this.allDirty, keys: [...this.dirty] };
    this.dirty.clear();
    this.allDirty = false;
    return out;
  }

  /** Marks everything dirty (config or template change, periodic full pass). */
  markAllDirty(): void {
    this.allDirty = true;
  }

  retainServices(keys: ReadonlySet<string>): void {
    for (const key of [...this.services.keys()]) {
      if (keys.has(key)) continue;
      this.services.delete(key);
      this.touch(key);
    }
  }

  retainSlices(keys: ReadonlySet<string>): void {
    for (const sliceKey of [...this.serviceOfSlice.keys()])
      if (!keys.has(sliceKey)) this.removeSlice(sliceKey);
  }

  service(key: string): ServiceSnapshot | undefined {
    return this.services.get(key);
  }

  slicesOf(key: string): readonly EndpointSliceSnapshot[] {
    return this.slicesByService.get(key) ?? [];
  }

  serviceKeys(): IterableIterator<string> {
    return this.services.keys();
  }

  private removeSlice(sliceKey: string): void {
    const svcKey = this.serviceOfSlice.get(sliceKey);
    if (svcKey === undefined) return;
    this.serviceOfSlice.delete(sliceKey);
    const name = sliceKey.slice(sliceKey.indexOf("/") + 1);
    const left = (this.slicesByService.get(svcKey) ?? []).filter((s) => s.name !== name);
    if (left.length === 0) this.slicesByService.delete(svcKey);
    else this.slicesByService.set(svcKey, exactSize(left));
    this.touch(svcKey);
  }

  private internNode(e: EndpointSnapshot): EndpointSnapshot {
    if (e.nodeName === undefined) return e;
    let name = this.nodeNames.get(e.nodeName);
    if (name === undefined) {
      if (this.nodeNames.size >= 100_000) this.nodeNames.clear();
      name = e.nodeName;
      this.nodeNames.set(name, name);
    }
    return { ...e, nodeName: name };
  }

  private touch(key: string): void {
    this.dirty.add(key);
  }
}
