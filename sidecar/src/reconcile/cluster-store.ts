// The in-memory view of the cluster the reconciler reads: Services, their EndpointSlices and
// this Node, as snapshots, plus which Services changed since the last reconcile.
// Watch callbacks only write here; they never compute anything.

import type { EndpointSliceSnapshot, NodeSnapshot, ServiceSnapshot } from "../model/snapshot.js";

export class ClusterStore {
  private readonly services = new Map<string, ServiceSnapshot>();
  /** service key → slice key → slice; slices belong to the Service in their own namespace. */
  private readonly slicesByService = new Map<string, Map<string, EndpointSliceSnapshot>>();
  private readonly serviceOfSlice = new Map<string, string>();
  private nodeSnapshot: NodeSnapshot | undefined;
  private readonly dirty = new Set<string>();
  private allDirty = true;
  private generation = 0;

  get node(): NodeSnapshot | undefined {
    return this.nodeSnapshot;
  }

  /** Bumped on every change; equal generations mean nothing happened in between. */
  get version(): number {
    return this.generation;
  }

  get serviceCount(): number {
    return this.services.size;
  }

  upsertService(svc: ServiceSnapshot): void {
    const key = `${svc.namespace}/${svc.name}`;
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
    this.removeSlice(sliceKey);
    if (slice.serviceName === undefined) return;
    const svcKey = `${slice.namespace}/${slice.serviceName}`;
    let slices = this.slicesByService.get(svcKey);
    if (slices === undefined) {
      slices = new Map();
      this.slicesByService.set(svcKey, slices);
    }
    slices.set(sliceKey, slice);
    this.serviceOfSlice.set(sliceKey, svcKey);
    this.touch(svcKey);
  }

  deleteSlice(namespace: string, name: string): void {
    this.removeSlice(`${namespace}/${name}`);
  }

  setNode(node: NodeSnapshot | undefined): void {
    this.nodeSnapshot = node;
    // Every verdict depends on the node (exclusion, drain, local endpoints).
    this.allDirty = true;
    this.generation++;
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
    this.generation++;
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

  slicesOf(key: string): EndpointSliceSnapshot[] {
    return [...(this.slicesByService.get(key)?.values() ?? [])];
  }

  serviceKeys(): IterableIterator<string> {
    return this.services.keys();
  }

  private removeSlice(sliceKey: string): void {
    const svcKey = this.serviceOfSlice.get(sliceKey);
    if (svcKey === undefined) return;
    this.serviceOfSlice.delete(sliceKey);
    const slices = this.slicesByService.get(svcKey);
    slices?.delete(sliceKey);
    if (slices?.size === 0) this.slicesByService.delete(svcKey);
    this.touch(svcKey);
  }

  private touch(key: string): void {
    this.dirty.add(key);
    this.generation++;
  }
}
