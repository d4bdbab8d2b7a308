// Converts Kubernetes objects (as the API, kubectl or client-node give them) into the model's
// plain snapshot types: only what the rules read (annotations only under our prefix, never
// managedFields or last-applied copies). Tolerant of missing fields, strict about identity.

import type {
  ClusterSnapshot,
  EndpointSliceSnapshot,
  EndpointSnapshot,
  NodeSnapshot,
  ServiceSnapshot,
  TrafficPolicy,
} from "../model/snapshot.js";
import { exactRecord, exactSize, knownString, knownStrings } from "../model/exact-size.js";
import { ANNOTATION_PREFIX } from "../model/policy.js";

type Obj = Record<string, unknown>;

const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
const SERVICE_TYPES = knownStrings("ClusterIP", "NodePort", "LoadBalancer", "ExternalName");
const ADDRESS_TYPES = knownStrings("IPv4", "IPv6", "FQDN");

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}
function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
// Snapshots live as long as their object does (10k of each): exact-size arrays, one shared empty
// array and record, known enumeration values as the program's own strings (docs/memory.md).
function strings(v: unknown): readonly string[] {
  return exactSize(Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
}
function stringMap(v: unknown): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v))) if (typeof val === "string") out[k] = val;
  return exactRecord(out);
}
/** Only our annotations: others (kubectl's last-applied copy) can be kilobytes per object. */
function ourAnnotations(v: unknown): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v)))
    if (k.startsWith(ANNOTATION_PREFIX) && typeof val === "string") out[k] = val;
  return exactRecord(out);
}

function bool(v: unknown): boolean | undefined {
  return typeof v === "boolean" ? v : undefined;
}
function policy(v: unknown): TrafficPolicy {
  return v === "Local" ? "Local" : "Cluster";
}

function identity(o: Obj, kind: string, namespaced: boolean): { namespace: string; name: string } {
  const meta = obj(o["metadata"]);
  const name = str(meta["name"]);
  const namespace = namespaced ? (str(meta["namespace"]) ?? "default") : "";
  if (name === undefined || name === "") throw new Error(`${kind} without metadata.name`);
  return { namespace, name };
}

export function toServiceSnapshot(raw: unknown): ServiceSnapshot {
  const o = obj(raw);
  const spec = obj(o["spec"]);
  const meta = obj(o["metadata"]);
  const clusterIPs = strings(spec["clusterIPs"]);
  const clusterIP = str(spec["clusterIP"]);
  const ingress = Array.isArray(obj(obj(o["status"])["loadBalancer"])["ingress"])
    ? (obj(obj(o["status"])["loadBalancer"])["ingress"] as unknown[])
    : [];
  const { namespace, name } = identity(o, "Service", true);
  // One object literal with every field (no spread): its fields stay inside the object.
  return {
    namespace,
    name,
    uid: str(meta["uid"]),
    type: knownString(str(spec["type"]) ?? "ClusterIP", SERVICE_TYPES),
    clusterIPs:
      clusterIPs.length > 0
        ? clusterIPs
        : clusterIP !== undefined && clusterIP !== ""
          ? [clusterIP]
          : exactSize([]),
    // Hostname-only ingress entries (cloud LBs) carry nothing we can advertise.
    loadBalancerIPs: exactSize(
      ingress.map((i) => str(obj(i)["ip"])).filter((ip): ip is string => ip !== undefined && ip !== ""),
    ),
    externalIPs: strings(spec["externalIPs"]),
    externalTrafficPolicy: policy(spec["externalTrafficPolicy"]),
    internalTrafficPolicy: policy(spec["internalTrafficPolicy"]),
    publishNotReadyAddresses: bool(spec["publishNotReadyAddresses"]) ?? false,
    labels: stringMap(meta["labels"]),
    annotations: ourAnnotations(meta["annotations"]),
  };
}

function toEndpoint(raw: unknown): EndpointSnapshot {
  const e = obj(raw);
  const c = obj(e["conditions"]);
  return {
    addresses: strings(e["addresses"]),
    ready: bool(c["ready"]),
    serving: bool(c["serving"]),
    terminating: bool(c["terminating"]),
    nodeName: str(e["nodeName"]),
  };
}

export function toEndpointSliceSnapshot(raw: unknown): EndpointSliceSnapshot {
  const o = obj(raw);
  const labels = stringMap(obj(o["metadata"])["labels"]);
  const { namespace, name } = identity(o, "EndpointSlice", true);
  return {
    namespace,
    name,
    serviceName: labels[SERVICE_NAME_LABEL],
    addressType: knownString(str(o["addressType"]) ?? "IPv4", ADDRESS_TYPES),
    endpoints: Array.isArray(o["endpoints"]) ? (o["endpoints"] as unknown[]).map(toEndpoint) : exactSize([]),
  };
}

export function toNodeSnapshot(raw: unknown): NodeSnapshot {
  const o = obj(raw);
  const meta = obj(o["metadata"]);
  const spec = obj(o["spec"]);
  const taints = Array.isArray(spec["taints"]) ? (spec["taints"] as unknown[]) : [];
  return {
    name: identity(o, "Node", false).name,
    labels: stringMap(meta["labels"]),
    annotations: ourAnnotations(meta["annotations"]),
    unschedulable: bool(spec["unschedulable"]) ?? false,
    taints: taints.map((t) => ({ key: str(obj(t)["key"]) ?? "", effect: str(obj(t)["effect"]) ?? "" })),
  };
}

export interface ObjectSet {
  readonly snapshot: ClusterSnapshot;
  readonly nodes: readonly NodeSnapshot[];
  /** Objects that could not be read (each skipped on its own). */
  readonly problems: readonly string[];
}

/** Flattens `List`s and sorts objects by kind; unknown kinds are ignored, broken ones reported. */
export function objectsToSnapshot(objects: readonly unknown[]): ObjectSet {
  const services: ServiceSnapshot[] = [];
  const endpointSlices: EndpointSliceSnapshot[] = [];
  const nodes: NodeSnapshot[] = [];
  const problems: string[] = [];
  const visit = (raw: unknown, where: string): void => {
    const o = obj(raw);
    const kind = str(o["kind"]);
    try {
      if (kind !== undefined && kind.endsWith("List") && Array.isArray(o["items"])) {
        (o["items"] as unknown[]).forEach((item, i) => {
          visit(item, `${where}.items[${i}]`);
        });
      } else if (kind === "Service") services.push(toServiceSnapshot(o));
      else if (kind === "EndpointSlice") endpointSlices.push(toEndpointSliceSnapshot(o));
      else if (kind === "Node") nodes.push(toNodeSnapshot(o));
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
    }
  };
  objects.forEach((o, i) => {
    visit(o, `object ${i}`);
  });
  return { snapshot: { services, endpointSlices }, nodes, problems };
}
