// Plain, client-library-free views of the Kubernetes objects the model reads.
// kube/ builds these; model/ consumes them. Only the fields the rules need are here.

export type IpFamily = "ipv4" | "ipv6";
export type AddressKind = "clusterIP" | "loadBalancer" | "externalIP";
export type TrafficPolicy = "Cluster" | "Local";

export interface ServiceSnapshot {
  readonly namespace: string;
  readonly name: string;
  /** metadata.uid: Events about the Service name it, so `kubectl describe` finds them. */
  readonly uid?: string | undefined;
  /** spec.type as written ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"); "ClusterIP" if unset. */
  readonly type: string;
  /** spec.clusterIPs, or [spec.clusterIP] when clusterIPs is unset; may contain "None" (headless). */
  readonly clusterIPs: readonly string[];
  /** status.loadBalancer.ingress[].ip; hostname-only entries are already dropped. */
  readonly loadBalancerIPs: readonly string[];
  readonly externalIPs: readonly string[];
  /** spec.externalTrafficPolicy; "Cluster" if unset (the API default). */
  readonly externalTrafficPolicy: TrafficPolicy;
  /** spec.internalTrafficPolicy; "Cluster" if unset (the API default). */
  readonly internalTrafficPolicy: TrafficPolicy;
  readonly publishNotReadyAddresses: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface EndpointSnapshot {
  readonly addresses: readonly string[];
  /** conditions.ready; undefined = unknown, which the API says consumers should treat as ready. */
  readonly ready: boolean | undefined;
  readonly serving: boolean | undefined;
  readonly terminating: boolean | undefined;
  readonly nodeName: string | undefined;
}

export interface EndpointSliceSnapshot {
  readonly namespace: string;
  readonly name: string;
  /** Label kubernetes.io/service-name; undefined when the slice is not owned by a Service. */
  readonly serviceName: string | undefined;
  /** "IPv4" | "IPv6" | "FQDN" */
  readonly addressType: string;
  readonly endpoints: readonly EndpointSnapshot[];
}

export interface NodeSnapshot {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly unschedulable: boolean;
  readonly taints: readonly { readonly key: string; readonly effect: string }[];
}

export interface ClusterSnapshot {
  readonly services: readonly ServiceSnapshot[];
  readonly endpointSlices: readonly EndpointSliceSnapshot[];
}

/** "namespace/name" — the key used everywhere a Service is named. */
export function serviceKey(s: { readonly namespace: string; readonly name: string }): string {
  return `${s.namespace}/${s.name}`;
}
