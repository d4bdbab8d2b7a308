import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { attributesKey, nameAttributeSets } from "./attribute-sets.js";
import type { BgpAttributes, DesiredState } from "./desired-state-types.js";
import {
  desiredStateFor,
  computeDesiredState,
  evaluateService,
  indexSlicesByService,
} from "./desired-state.js";
import { fnv1a64Hex } from "./fnv.js";
import type { AdvertisePolicy } from "./policy.js";
import type {
  ClusterSnapshot,
  EndpointSliceSnapshot,
  EndpointSnapshot,
  NodeSnapshot,
  ServiceSnapshot,
} from "./snapshot.js";

// ---------------------------------------------------------------------------------------------
// Fixtures: small builders with the defaults a real cluster would have.

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const NODE: NodeSnapshot = { name: "n1", labels: {}, annotations: {}, unschedulable: false, taints: [] };

/** What config/ gives by default: external IPs off (CVE-2020-8554). */
const POLICY: AdvertisePolicy = {
  families: ["ipv4", "ipv6"],
  addressKinds: { clusterIP: true, loadBalancer: true, externalIP: false },
  allowedCidrs: ["0.0.0.0/0", "::/0"],
  excludedIps: [],
  includeNamespaces: [],
  excludeNamespaces: [],
  serviceSelector: [],
  withdrawWhenUnschedulable: false,
  drain: false,
  nodeName: "n1",
  neighborScopes: [],
};

/** "ns/name" → a ClusterIP Service 10.96.0.10 unless overridden. */
function svc(ref: string, overrides: Partial<Mutable<ServiceSnapshot>> = {}): ServiceSnapshot {
  const [namespace = "", name = ""] = ref.split("/");
  return {
    namespace,
    name,
    type: "ClusterIP",
    clusterIPs: ["10.96.0.10"],
    loadBalancerIPs: [],
    externalIPs: [],
    externalTrafficPolicy: "Cluster",
    internalTrafficPolicy: "Cluster",
    publishNotReadyAddresses: false,
    labels: {},
    annotations: {},
    ...overrides,
  };
}

let sliceCounter = 0;

/** A slice for Service "ns/name" (the label), living in that namespace unless overridden. */
function slice(
  ref: string,
  endpoints: EndpointSnapshot[],
  overrides: Partial<Mutable<EndpointSliceSnapshot>> = {},
): EndpointSliceSnapshot {
  const [namespace = "", name = ""] = ref.split("/");
  sliceCounter += 1;
  return {
    namespace,
    name: `${name}-${sliceCounter}`,
    serviceName: name,
    addressType: "IPv4",
    endpoints,
    ...overrides,
  };
}

/** A ready endpoint on node n2 (not this node) unless overridden. */
function ep(address: string, overrides: Partial<Mutable<EndpointSnapshot>> = {}): EndpointSnapshot {
  return {
    addresses: [address],
    ready: true,
    serving: true,
    terminating: false,
    nodeName: "n2",
    ...overrides,
  };
}

const READY_ELSEWHERE = (ref: string): EndpointSliceSnapshot => slice(ref, [ep("10.244.2.5")]);
const TERMINATING_SERVING = { ready: false, serving: true, terminating: true } as const;

// ---------------------------------------------------------------------------------------------
// The table. Decisions are written "service kind address code", optionally " | reason fragment".

interface Case {
  readonly name: string;
  readonly services: readonly ServiceSnapshot[];
  readonly slices?: readonly EndpointSliceSnapshot[];
  /** Default NODE; "absent" = the Node object has not been seen yet. */
  readonly node?: NodeSnapshot | "absent";
  readonly policy?: Partial<AdvertisePolicy>;
  readonly decisions: readonly string[];
  /** "prefix service1,service2"; default: none advertised. */
  readonly prefixes?: readonly string[];
  /** One regex per expected problem; default: no problems. */
  readonly problems?: readonly RegExp[];
}

const cases: readonly Case[] = [
  // --- health
  {
    name: "ClusterIP healthy on another node is advertised (any node may attract it)",
    services: [svc("default/web")],
    slices: [READY_ELSEWHERE("default/web")],
    decisions: ["default/web clusterIP 10.96.0.10 advertised | advertised: 1 ready endpoint cluster-wide"],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  {
    name: "no ready endpoint: withdrawn",
    services: [svc("default/web")],
    slices: [slice("default/web", [ep("10.244.2.5", { ready: false })])],
    decisions: [
      "default/web clusterIP 10.96.0.10 no-ready-endpoints | not advertised: no ready endpoints cluster-wide",
    ],
  },
  {
    name: "no slices at all: withdrawn",
    services: [svc("default/web")],
    decisions: ["default/web clusterIP 10.96.0.10 no-ready-endpoints"],
  },
  {
    name: "an endpoint without addresses does not count",
    services: [svc("default/web")],
    slices: [slice("default/web", [{ ...ep("x"), addresses: [] }])],
    decisions: ["default/web clusterIP 10.96.0.10 no-ready-endpoints"],
  },
  {
    name: "ready unset counts as ready (the API says unknown = ready)",
    services: [svc("default/web")],
    slices: [
      slice("default/web", [
        ep("10.244.2.5", { ready: undefined, serving: undefined, terminating: undefined }),
      ]),
    ],
    decisions: ["default/web clusterIP 10.96.0.10 advertised"],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  {
    name: "several slices of both families all count together",
    services: [svc("default/web")],
    slices: [
      slice("default/web", [ep("10.244.2.5", { ready: false })]),
      slice("default/web", [ep("fd00:244::5")], { addressType: "IPv6" }),
      slice("default/web", [ep("10.244.3.5")]),
    ],
    decisions: ["default/web clusterIP 10.96.0.10 advertised | 2 ready endpoints cluster-wide"],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  {
    name: "FQDN slices are ignored",
    services: [svc("default/web")],
    slices: [slice("default/web", [ep("db.example.com")], { addressType: "FQDN" })],
    decisions: ["default/web clusterIP 10.96.0.10 no-ready-endpoints"],
  },
  {
    name: "a slice with the same service-name label in another namespace does not count",
    services: [svc("default/web")],
    slices: [READY_ELSEWHERE("other/web")],
    decisions: ["default/web clusterIP 10.96.0.10 no-ready-endpoints"],
  },
  {
    name: "terminating-but-serving endpoints keep the route when none is ready",
    services: [svc("default/web")],
    slices: [
      slice("default/web", [ep("10.244.2.5", TERMINATING_SERVING), ep("10.244.2.6", { ready: false })]),
    ],
    decisions: [
      "default/web clusterIP 10.96.0.10 advertised | serving-terminating endpoints only (1 cluster-wide)",
    ],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  {
    name: "serving unset on a terminating endpoint counts as serving",
    services: [svc("default/web")],
    slices: [
      slice("default/web", [ep("10.244.2.5", { ready: false, serving: undefined, terminating: true })]),
    ],
    decisions: ["default/web clusterIP 10.96.0.10 advertised | serving-terminating endpoints only"],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  {
    name: "the terminating fallback is not used while a ready endpoint exists",
    services: [svc("default/web")],
    slices: [slice("default/web", [ep("10.244.2.5", TERMINATING_SERVING), ep("10.244.2.6")])],
    decisions: ["default/web clusterIP 10.96.0.10 advertised | advertised: 1 ready endpoint cluster-wide"],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  {
    name: "terminating and not serving does not count",
    services: [svc("default/web")],
    slices: [slice("default/web", [ep("10.244.2.5", { ready: false, serving: false, terminating: true })])],
    decisions: ["default/web clusterIP 10.96.0.10 no-ready-endpoints"],
  },
  {
    name: "not ready, not terminating but serving does not count (serving alone is not enough)",
    services: [svc("default/web")],
    slices: [slice("default/web", [ep("10.244.2.5", { ready: false, serving: true, terminating: false })])],
    decisions: ["default/web clusterIP 10.96.0.10 no-ready-endpoints"],
  },
  // --- shapes and address kinds
  {
    name: "headless",
    services: [svc("default/db", { clusterIPs: ["None"] })],
    slices: [READY_ELSEWHERE("default/db")],
    decisions: ["default/db clusterIP None headless"],
  },
  {
    name: "ExternalName gets one decision and nothing else",
    services: [svc("default/ext", { type: "ExternalName", clusterIPs: [], externalIPs: ["192.0.2.1"] })],
    decisions: ['default/ext clusterIP "" external-name'],
  },
  {
    name: "an empty clusterIP is ignored (not allocated yet)",
    services: [svc("default/web", { clusterIPs: [""] })],
    slices: [READY_ELSEWHERE("default/web")],
    decisions: [],
  },
  {
    name: "dual-stack clusterIPs: /32 and /128, IPv4 first",
    services: [svc("default/web", { clusterIPs: ["fd00:96::10", "10.96.0.10"] })],
    slices: [READY_ELSEWHERE("default/web")],
    decisions: [
      "default/web clusterIP 10.96.0.10 advertised",
      "default/web clusterIP fd00:96::10 advertised",
    ],
    prefixes: ["10.96.0.10/32 default/web", "fd00:96::10/128 default/web"],
  },
  {
    name: "LoadBalancer ingress IP is advertised; hostname-only ingress (dropped by kube/) gives no LB decision",
    services: [
      svc("default/lb", { type: "LoadBalancer", loadBalancerIPs: ["192.0.2.10"] }),
      svc("default/cloud", { type: "LoadBalancer", clusterIPs: ["10.96.0.11"], loadBalancerIPs: [] }),
    ],
    slices: [READY_ELSEWHERE("default/lb"), READY_ELSEWHERE("default/cloud")],
    decisions: [
      "default/cloud clusterIP 10.96.0.11 advertised",
      "default/lb clusterIP 10.96.0.10 advertised",
      "default/lb loadBalancer 192.0.2.10 advertised",
    ],
    prefixes: ["10.96.0.10/32 default/lb", "10.96.0.11/32 default/cloud", "192.0.2.10/32 default/lb"],
  },
  {
    name: "loadBalancer kind disabled",
    services: [svc("default/lb", { type: "LoadBalancer", loadBalancerIPs: ["192.0.2.10"] })],
    slices: [READY_ELSEWHERE("default/lb")],
    policy: { addressKinds: { clusterIP: true, loadBalancer: false, externalIP: false } },
    decisions: [
      "default/lb clusterIP 10.96.0.10 advertised",
      "default/lb loadBalancer 192.0.2.10 address-kind-disabled | address kind loadBalancer is disabled",
    ],
    prefixes: ["10.96.0.10/32 default/lb"],
  },
  {
    name: "a family BGP does not carry (bgp.families) is not advertised, dual-stack Service",
    services: [svc("default/web", { clusterIPs: ["10.96.0.10", "fd00:96::10"] })],
    slices: [READY_ELSEWHERE("default/web")],
    policy: { families: ["ipv4"] },
    decisions: [
      "default/web clusterIP 10.96.0.10 advertised",
      "default/web clusterIP fd00:96::10 family-disabled | ipv6 is not in bgp.families",
    ],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  {
    name: "externalIPs are off by default (CVE-2020-8554)",
    services: [svc("default/web", { externalIPs: ["192.0.2.50"] })],
    slices: [READY_ELSEWHERE("default/web")],
    decisions: [
      "default/web clusterIP 10.96.0.10 advertised",
      "default/web externalIP 192.0.2.50 address-kind-disabled",
    ],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  {
    name: "externalIPs, when enabled, are still limited by the allowed CIDRs",
    services: [svc("default/web", { externalIPs: ["198.51.100.7", "192.0.2.50"] })],
    slices: [READY_ELSEWHERE("default/web")],
    policy: {
      addressKinds: { clusterIP: true, loadBalancer: true, externalIP: true },
      allowedCidrs: ["10.96.0.0/12", "192.0.2.0/24"],
    },
    decisions: [
      "default/web clusterIP 10.96.0.10 advertised",
      "default/web externalIP 192.0.2.50 advertised",
      "default/web externalIP 198.51.100.7 outside-allowed-cidrs | 198.51.100.7 is outside the allowed CIDRs",
    ],
    prefixes: ["10.96.0.10/32 default/web", "192.0.2.50/32 default/web"],
  },
  {
    name: "an invalid address is refused and reported (enabled kind only)",
    services: [svc("default/web", { loadBalancerIPs: ["10.0.0.01"], externalIPs: ["bogus"] })],
    slices: [READY_ELSEWHERE("default/web")],
    decisions: [
      "default/web clusterIP 10.96.0.10 advertised",
      'default/web loadBalancer 10.0.0.01 invalid-address | "10.0.0.01" is not an IP address (octet "01" has a leading zero',
      "default/web externalIP bogus address-kind-disabled",
    ],
    prefixes: ["10.96.0.10/32 default/web"],
    problems: [/^Service default\/web: loadBalancer "10\.0\.0\.01" is not an IP address/],
  },
  // --- traffic policies
  {
    name: "ETP=Local without a local endpoint: LB IP withdrawn here, clusterIP (ITP=Cluster) still advertised",
    services: [svc("default/lb", { loadBalancerIPs: ["192.0.2.10"], externalTrafficPolicy: "Local" })],
    slices: [READY_ELSEWHERE("default/lb")],
    decisions: [
      "default/lb clusterIP 10.96.0.10 advertised | cluster-wide",
      "default/lb loadBalancer 192.0.2.10 no-local-ready-endpoints | not advertised: externalTrafficPolicy=Local and no ready endpoint on node n1",
    ],
    prefixes: ["10.96.0.10/32 default/lb"],
  },
  {
    name: "ETP=Local with a local endpoint: both advertised",
    services: [svc("default/lb", { loadBalancerIPs: ["192.0.2.10"], externalTrafficPolicy: "Local" })],
    slices: [slice("default/lb", [ep("10.244.1.5", { nodeName: "n1" }), ep("10.244.2.5")])],
    decisions: [
      "default/lb clusterIP 10.96.0.10 advertised | 2 ready endpoints cluster-wide",
      "default/lb loadBalancer 192.0.2.10 advertised | 1 ready endpoint on node n1 (externalTrafficPolicy=Local)",
    ],
    prefixes: ["10.96.0.10/32 default/lb", "192.0.2.10/32 default/lb"],
  },
  {
    name: "ETP=Local applies to externalIPs too",
    services: [svc("default/lb", { externalIPs: ["192.0.2.60"], externalTrafficPolicy: "Local" })],
    slices: [READY_ELSEWHERE("default/lb")],
    policy: { addressKinds: { clusterIP: true, loadBalancer: true, externalIP: true } },
    decisions: [
      "default/lb clusterIP 10.96.0.10 advertised",
      "default/lb externalIP 192.0.2.60 no-local-ready-endpoints",
    ],
    prefixes: ["10.96.0.10/32 default/lb"],
  },
  {
    name: "ETP=Local: a local not-ready endpoint does not count even if another node has a ready one",
    services: [
      svc("default/lb", { clusterIPs: [], loadBalancerIPs: ["192.0.2.10"], externalTrafficPolicy: "Local" }),
    ],
    slices: [slice("default/lb", [ep("10.244.1.5", { nodeName: "n1", ready: false }), ep("10.244.2.5")])],
    decisions: ["default/lb loadBalancer 192.0.2.10 no-local-ready-endpoints"],
  },
  {
    name: "ETP=Local: the terminating fallback is per scope (local serving-terminating, ready elsewhere)",
    services: [
      svc("default/lb", { clusterIPs: [], loadBalancerIPs: ["192.0.2.10"], externalTrafficPolicy: "Local" }),
    ],
    slices: [
      slice("default/lb", [ep("10.244.1.5", { nodeName: "n1", ...TERMINATING_SERVING }), ep("10.244.2.5")]),
    ],
    decisions: [
      "default/lb loadBalancer 192.0.2.10 advertised | serving-terminating endpoints only (1 on node n1",
    ],
    prefixes: ["192.0.2.10/32 default/lb"],
  },
  {
    name: "ITP=Local without a local endpoint: clusterIP withdrawn here, LB IP (ETP=Cluster) advertised",
    services: [svc("default/lb", { loadBalancerIPs: ["192.0.2.10"], internalTrafficPolicy: "Local" })],
    slices: [READY_ELSEWHERE("default/lb")],
    decisions: [
      "default/lb clusterIP 10.96.0.10 no-local-ready-endpoints | internalTrafficPolicy=Local and no ready endpoint on node n1",
      "default/lb loadBalancer 192.0.2.10 advertised",
    ],
    prefixes: ["192.0.2.10/32 default/lb"],
  },
  {
    name: "ITP=Local with a local endpoint",
    services: [svc("default/web", { internalTrafficPolicy: "Local" })],
    slices: [slice("default/web", [ep("10.244.1.5", { nodeName: "n1" })])],
    decisions: ["default/web clusterIP 10.96.0.10 advertised | on node n1 (internalTrafficPolicy=Local)"],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  // --- node level
  {
    name: "node labelled exclude-from-external-load-balancers advertises nothing",
    services: [svc("default/lb", { loadBalancerIPs: ["192.0.2.10"] })],
    slices: [READY_ELSEWHERE("default/lb")],
    node: { ...NODE, labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "" } },
    decisions: [
      "default/lb clusterIP 10.96.0.10 node-excluded | node n1 has label node.kubernetes.io/exclude-from-external-load-balancers",
      "default/lb loadBalancer 192.0.2.10 node-excluded",
    ],
  },
  {
    name: "drain switch in the policy",
    services: [svc("default/web")],
    slices: [READY_ELSEWHERE("default/web")],
    policy: { drain: true },
    decisions: ["default/web clusterIP 10.96.0.10 node-draining | drain switch is on"],
  },
  {
    name: "drain annotation on the node",
    services: [svc("default/web")],
    slices: [READY_ELSEWHERE("default/web")],
    node: { ...NODE, annotations: { "frr-advertiser.io/drain": "true" } },
    decisions: ["default/web clusterIP 10.96.0.10 node-draining | annotation frr-advertiser.io/drain=true"],
  },
  {
    name: "drain annotation other than exactly true does not drain",
    services: [svc("default/web")],
    slices: [READY_ELSEWHERE("default/web")],
    node: { ...NODE, annotations: { "frr-advertiser.io/drain": "false" } },
    decisions: ["default/web clusterIP 10.96.0.10 advertised"],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  {
    name: "cluster-autoscaler deletion taint drains",
    services: [svc("default/web")],
    slices: [READY_ELSEWHERE("default/web")],
    node: { ...NODE, taints: [{ key: "ToBeDeletedByClusterAutoscaler", effect: "NoSchedule" }] },
    decisions: ["default/web clusterIP 10.96.0.10 node-draining | taint ToBeDeletedByClusterAutoscaler"],
  },
  {
    name: "other taints do not drain",
    services: [svc("default/web")],
    slices: [READY_ELSEWHERE("default/web")],
    node: { ...NODE, taints: [{ key: "node.kubernetes.io/not-ready", effect: "NoExecute" }] },
    decisions: ["default/web clusterIP 10.96.0.10 advertised"],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  {
    name: "cordoned node with withdrawWhenUnschedulable on drains",
    services: [svc("default/web")],
    slices: [READY_ELSEWHERE("default/web")],
    node: { ...NODE, unschedulable: true },
    policy: { withdrawWhenUnschedulable: true },
    decisions: ["default/web clusterIP 10.96.0.10 node-draining | cordoned"],
  },
  {
    name: "cordoned node with withdrawWhenUnschedulable off keeps advertising",
    services: [svc("default/web")],
    slices: [READY_ELSEWHERE("default/web")],
    node: { ...NODE, unschedulable: true },
    decisions: ["default/web clusterIP 10.96.0.10 advertised"],
    prefixes: ["10.96.0.10/32 default/web"],
  },
  {
    name: "node object not seen yet: fail closed",
    services: [svc("default/web")],
    slices: [READY_ELSEWHERE("default/web")],
    node: "absent",
    decisions: ["default/web clusterIP 10.96.0.10 node-unknown | node object not seen"],
  },
  // --- scope and opt-out
  {
    name: "includeNamespaces",
    services: [svc("default/web"), svc("prod/web", { clusterIPs: ["10.96.0.20"] })],
    slices: [READY_ELSEWHERE("default/web"), READY_ELSEWHERE("prod/web")],
    policy: { includeNamespaces: ["prod"] },
    decisions: [
      "default/web clusterIP 10.96.0.10 namespace-excluded | namespace default is not in includeNamespaces",
      "prod/web clusterIP 10.96.0.20 advertised",
    ],
    prefixes: ["10.96.0.20/32 prod/web"],
  },
  {
    name: "excludeNamespaces (wins over include); excluded Services' annotations are not even read",
    services: [
      svc("kube-system/dns", { annotations: { "frr-advertiser.io/med": "junk" } }),
      svc("prod/web", { clusterIPs: ["10.96.0.20"] }),
    ],
    slices: [READY_ELSEWHERE("kube-system/dns"), READY_ELSEWHERE("prod/web")],
    policy: { includeNamespaces: ["kube-system", "prod"], excludeNamespaces: ["kube-system"] },
    decisions: [
      "kube-system/dns clusterIP 10.96.0.10 namespace-excluded | namespace kube-system is in excludeNamespaces",
      "prod/web clusterIP 10.96.0.20 advertised",
    ],
    prefixes: ["10.96.0.20/32 prod/web"],
  },
  {
    name: "service label selector",
    services: [
      svc("default/a", { labels: { bgp: "yes" } }),
      svc("default/b", { clusterIPs: ["10.96.0.11"] }),
    ],
    slices: [READY_ELSEWHERE("default/a"), READY_ELSEWHERE("default/b")],
    policy: { serviceSelector: [{ key: "bgp", op: "in", values: ["yes"] }] },
    decisions: [
      "default/a clusterIP 10.96.0.10 advertised",
      "default/b clusterIP 10.96.0.11 selector-excluded",
    ],
    prefixes: ["10.96.0.10/32 default/a"],
  },
  {
    name: "opt-out annotation",
    services: [
      svc("default/a", { annotations: { "frr-advertiser.io/advertise": "false" } }),
      svc("default/b", {
        clusterIPs: ["10.96.0.11"],
        annotations: { "frr-advertiser.io/advertise": "true" },
      }),
    ],
    slices: [READY_ELSEWHERE("default/a"), READY_ELSEWHERE("default/b")],
    decisions: [
      "default/a clusterIP 10.96.0.10 opted-out | annotation frr-advertiser.io/advertise=false",
      "default/b clusterIP 10.96.0.11 advertised",
    ],
    prefixes: ["10.96.0.11/32 default/b"],
  },
  {
    name: "invalid annotation fails closed for the whole Service and is reported",
    services: [
      svc("default/web", {
        loadBalancerIPs: ["192.0.2.10"],
        annotations: { "frr-advertiser.io/communities": "65000:1\n router bgp 1" },
      }),
    ],
    slices: [READY_ELSEWHERE("default/web")],
    decisions: [
      "default/web clusterIP 10.96.0.10 invalid-annotation | invalid annotation frr-advertiser.io/communities",
      "default/web loadBalancer 192.0.2.10 invalid-annotation",
    ],
    problems: [
      /^Service default\/web: annotation frr-advertiser\.io\/communities="65000:1\\n router bgp 1" contains/,
    ],
  },
  {
    name: "opt-out is checked before validity, but the bad annotation is still reported",
    services: [
      svc("default/web", {
        annotations: { "frr-advertiser.io/advertise": "false", "frr-advertiser.io/med": "x" },
      }),
    ],
    slices: [READY_ELSEWHERE("default/web")],
    decisions: ["default/web clusterIP 10.96.0.10 opted-out"],
    problems: [/annotation frr-advertiser\.io\/med="x" is not a MED/],
  },
  {
    name: "annotation problems are reported even while the node drains",
    services: [svc("default/web", { annotations: { "frr-advertiser.io/typo": "1" } })],
    slices: [READY_ELSEWHERE("default/web")],
    policy: { drain: true },
    decisions: ["default/web clusterIP 10.96.0.10 node-draining"],
    problems: [/frr-advertiser\.io\/typo="1" is not a known key/],
  },
  // --- address policy
  {
    name: "excluded IPs: single address and CIDR, IPv6 written non-canonically",
    services: [
      svc("default/lb", {
        clusterIPs: ["10.96.0.10", "fd00:96::a"],
        loadBalancerIPs: ["192.0.2.5", "192.0.2.20"],
      }),
    ],
    slices: [READY_ELSEWHERE("default/lb")],
    policy: { excludedIps: ["10.96.0.10", "192.0.2.0/28", "FD00:96:0::A"] },
    decisions: [
      "default/lb clusterIP 10.96.0.10 excluded-ip | excludedIps 10.96.0.10/32",
      "default/lb clusterIP fd00:96::a excluded-ip",
      "default/lb loadBalancer 192.0.2.5 excluded-ip | excludedIps 192.0.2.0/28",
      "default/lb loadBalancer 192.0.2.20 advertised",
    ],
    prefixes: ["192.0.2.20/32 default/lb"],
  },
  {
    name: "IPv6 canonicalisation: FD00:0::7 and fd00::7 are one prefix",
    services: [
      svc("default/a", { clusterIPs: [], loadBalancerIPs: ["FD00:0::7"] }),
      svc("default/b", { clusterIPs: [], loadBalancerIPs: ["fd00::7"] }),
    ],
    slices: [READY_ELSEWHERE("default/a"), READY_ELSEWHERE("default/b")],
    decisions: ["default/a loadBalancer FD00:0::7 advertised", "default/b loadBalancer fd00::7 advertised"],
    prefixes: ["fd00::7/128 default/a,default/b"],
  },
  {
    name: "an address repeated within one Service gives one decision per kind and one prefix",
    services: [
      svc("default/lb", { loadBalancerIPs: ["192.0.2.10", "192.0.2.10"], externalIPs: ["192.0.2.10"] }),
    ],
    slices: [READY_ELSEWHERE("default/lb")],
    policy: { addressKinds: { clusterIP: true, loadBalancer: true, externalIP: true } },
    decisions: [
      "default/lb clusterIP 10.96.0.10 advertised",
      "default/lb loadBalancer 192.0.2.10 advertised",
      "default/lb externalIP 192.0.2.10 advertised",
    ],
    prefixes: ["10.96.0.10/32 default/lb", "192.0.2.10/32 default/lb"],
  },
  // --- the order of checks (first failing check decides)
  {
    name: "order: node before namespace",
    services: [svc("default/web")],
    node: "absent",
    policy: { excludeNamespaces: ["default"] },
    decisions: ["default/web clusterIP 10.96.0.10 node-unknown"],
  },
  {
    name: "order: namespace before selector and opt-out",
    services: [svc("default/web", { annotations: { "frr-advertiser.io/advertise": "false" } })],
    policy: { excludeNamespaces: ["default"], serviceSelector: [{ key: "x", op: "exists" }] },
    decisions: ["default/web clusterIP 10.96.0.10 namespace-excluded"],
  },
  {
    name: "order: selector before opt-out",
    services: [svc("default/web", { annotations: { "frr-advertiser.io/advertise": "false" } })],
    policy: { serviceSelector: [{ key: "x", op: "exists" }] },
    decisions: ["default/web clusterIP 10.96.0.10 selector-excluded"],
  },
  {
    name: "order: invalid annotation before address kind, address validity and CIDRs",
    services: [
      svc("default/web", { externalIPs: ["10.0.0.01"], annotations: { "frr-advertiser.io/med": "-1" } }),
    ],
    policy: { allowedCidrs: [] },
    decisions: [
      "default/web clusterIP 10.96.0.10 invalid-annotation",
      "default/web externalIP 10.0.0.01 invalid-annotation",
    ],
    problems: [/med="-1"/],
  },
  {
    name: "order: excluded before allowed, allowed before health",
    services: [svc("default/web", { clusterIPs: ["10.96.0.10", "10.200.0.1"] })],
    policy: { allowedCidrs: ["10.96.0.0/12"], excludedIps: ["10.96.0.10"] },
    decisions: [
      "default/web clusterIP 10.96.0.10 excluded-ip",
      "default/web clusterIP 10.200.0.1 outside-allowed-cidrs",
    ],
  },
  {
    name: "no allowed CIDRs means nothing is allowed (fail closed)",
    services: [svc("default/web")],
    slices: [READY_ELSEWHERE("default/web")],
    policy: { allowedCidrs: [] },
    decisions: ["default/web clusterIP 10.96.0.10 outside-allowed-cidrs"],
  },
  // --- several Services, one IP
  {
    name: "one IP, two Services, one healthy: advertised for the healthy one only",
    services: [
      svc("default/a", { clusterIPs: [], loadBalancerIPs: ["192.0.2.10"] }),
      svc("default/b", { clusterIPs: [], loadBalancerIPs: ["192.0.2.10"] }),
    ],
    slices: [READY_ELSEWHERE("default/b")],
    decisions: [
      "default/a loadBalancer 192.0.2.10 no-ready-endpoints",
      "default/b loadBalancer 192.0.2.10 advertised",
    ],
    prefixes: ["192.0.2.10/32 default/b"],
  },
  {
    name: "one IP, two healthy Services (shared LB IP): advertised once, both listed",
    services: [
      svc("default/udp", { clusterIPs: [], loadBalancerIPs: ["192.0.2.10"] }),
      svc("default/tcp", { clusterIPs: [], loadBalancerIPs: ["192.0.2.10"] }),
    ],
    slices: [READY_ELSEWHERE("default/udp"), READY_ELSEWHERE("default/tcp")],
    decisions: [
      "default/tcp loadBalancer 192.0.2.10 advertised",
      "default/udp loadBalancer 192.0.2.10 advertised",
    ],
    prefixes: ["192.0.2.10/32 default/tcp,default/udp"],
  },
  {
    name: "one IP, two Services with different attributes: the first by ns/name wins, reported",
    services: [
      svc("b/web", {
        clusterIPs: [],
        loadBalancerIPs: ["192.0.2.10"],
        annotations: { "frr-advertiser.io/med": "20" },
      }),
      svc("a/web", {
        clusterIPs: [],
        loadBalancerIPs: ["192.0.2.10"],
        annotations: { "frr-advertiser.io/med": "10" },
      }),
    ],
    slices: [READY_ELSEWHERE("a/web"), READY_ELSEWHERE("b/web")],
    decisions: ["a/web loadBalancer 192.0.2.10 advertised", "b/web loadBalancer 192.0.2.10 advertised"],
    prefixes: ["192.0.2.10/32 a/web,b/web"],
    problems: [
      /^Services a\/web and b\/web both advertise 192\.0\.2\.10\/32 with different BGP attributes; using those of a\/web$/,
    ],
  },
  {
    name: "one IP, attributes on one Service only: also a conflict",
    services: [
      svc("a/web", { clusterIPs: [], loadBalancerIPs: ["192.0.2.10"] }),
      svc("b/web", {
        clusterIPs: [],
        loadBalancerIPs: ["192.0.2.10"],
        annotations: { "frr-advertiser.io/med": "10" },
      }),
    ],
    slices: [READY_ELSEWHERE("a/web"), READY_ELSEWHERE("b/web")],
    decisions: ["a/web loadBalancer 192.0.2.10 advertised", "b/web loadBalancer 192.0.2.10 advertised"],
    prefixes: ["192.0.2.10/32 a/web,b/web"],
    problems: [/^Services a\/web and b\/web both advertise 192\.0\.2\.10\/32/],
  },
];

function runCase(c: Case): DesiredState {
  const snapshot: ClusterSnapshot = { services: c.services, endpointSlices: c.slices ?? [] };
  const node = c.node === "absent" ? undefined : (c.node ?? NODE);
  return computeDesiredState(snapshot, node, { ...POLICY, ...c.policy });
}

void describe("computeDesiredState: the advertisement rules", () => {
  for (const c of cases) {
    void test(c.name, () => {
      const state = runCase(c);
      const expected = c.decisions.map((line) => line.split(" | ")[0]);
      const actual = state.decisions.map(
        (d) => `${d.service} ${d.kind} ${d.address === "" ? '""' : d.address} ${d.code}`,
      );
      assert.deepEqual(actual, expected);
      for (const [i, line] of c.decisions.entries()) {
        const fragment = line.split(" | ")[1];
        if (fragment !== undefined)
          assert.ok(
            state.decisions[i]?.reason.includes(fragment),
            `reason "${state.decisions[i]?.reason}" lacks "${fragment}"`,
          );
      }
      for (const d of state.decisions)
        assert.equal(d.advertise, d.code === "advertised", `${d.service} ${d.address}`);
      assert.deepEqual(
        state.prefixes.map((p) => `${p.prefix} ${p.services.join(",")}`),
        c.prefixes ?? [],
      );
      const problems = c.problems ?? [];
      assert.equal(state.problems.length, problems.length, state.problems.join("\n"));
      for (const [i, re] of problems.entries()) assert.match(state.problems[i] ?? "", re);
    });
  }
});

// ---------------------------------------------------------------------------------------------

void describe("attribute sets", () => {
  const withMed = (ref: string, ip: string, med: string): ServiceSnapshot =>
    svc(ref, { clusterIPs: [ip], annotations: { "frr-advertiser.io/med": med } });
  const state = runCase({
    name: "",
    services: [
      withMed("default/a", "10.96.0.1", "10"),
      withMed("default/b", "10.96.0.2", "10"),
      withMed("default/c", "10.96.0.3", "20"),
      svc("default/d", { clusterIPs: ["10.96.0.4"] }),
    ],
    slices: ["default/a", "default/b", "default/c", "default/d"].map(READY_ELSEWHERE),
    decisions: [],
  });

  void test("equal attributes share one set; prefixes without attributes carry none", () => {
    const [a, b, c, d] = state.prefixes;
    assert.equal(state.attributeSets.length, 2);
    assert.equal(a?.attributeSet, b?.attributeSet);
    assert.notEqual(a?.attributeSet, c?.attributeSet);
    assert.equal(d?.attributeSet, undefined);
    assert.deepEqual(
      state.attributeSets.map((s) => s.name),
      state.attributeSets.map((s) => s.name).sort(),
    );
  });

  void test("names are FRRADV-A- + FNV-1a 64 of the canonical attributes, pinned so they never drift", () => {
    const med10: BgpAttributes = {
      communities: [],
      largeCommunities: [],
      localPreference: undefined,
      med: 10,
      asPathPrepend: [],
    };
    const set = state.attributeSets.find((s) => s.attributes.med === 10);
    assert.ok(set);
    assert.deepEqual(set.attributes, med10);
    assert.equal(set.name, `FRRADV-A-${fnv1a64Hex(attributesKey(med10))}`);
    assert.equal(attributesKey(med10), "[[],[],null,10,[]]");
    assert.equal(set.name, "FRRADV-A-61e28b1f6449e173");
  });

  void test("only sets used by an advertised prefix are listed", () => {
    const withdrawn = runCase({
      name: "",
      services: [withMed("default/a", "10.96.0.1", "10")],
      decisions: [],
    });
    assert.deepEqual(withdrawn.attributeSets, []);
  });

  void test("FNV-1a 64 test vectors", () => {
    assert.equal(fnv1a64Hex(""), "cbf29ce484222325");
    assert.equal(fnv1a64Hex("a"), "af63dc4c8601ec8c");
    assert.equal(fnv1a64Hex("foobar"), "85944171f73967e8");
  });

  void test("a hash collision is resolved deterministically by re-hashing the later key", () => {
    const colliding = (text: string): string => (text.includes("#") ? fnv1a64Hex(text) : "0".repeat(16));
    const forward = nameAttributeSets(["b", "a"], colliding);
    const backward = nameAttributeSets(["a", "b"], colliding);
    assert.deepEqual([...forward.entries()].sort(), [...backward.entries()].sort());
    assert.equal(forward.get("a"), "FRRADV-A-0000000000000000");
    assert.equal(forward.get("b"), `FRRADV-A-${fnv1a64Hex("b#1")}`);
  });

  void test("a hash that never stops colliding is a broken invariant", () => {
    assert.throws(() => nameAttributeSets(["a", "b"], () => "0".repeat(16)), /no free name/);
  });
});

// ---------------------------------------------------------------------------------------------

void describe("stability and purity", () => {
  /** A mixed cluster touching most rules, so a shuffle exercises every sort and merge. */
  function mixedCluster(): ClusterSnapshot {
    return {
      services: [
        svc("default/web", { clusterIPs: ["fd00:96::a", "10.96.0.10"] }),
        svc("default/lb", {
          clusterIPs: ["10.96.0.2"],
          loadBalancerIPs: ["192.0.2.10", "FD00:0::7"],
          externalTrafficPolicy: "Local",
        }),
        svc("default/lb2", {
          clusterIPs: ["10.96.0.3"],
          loadBalancerIPs: ["192.0.2.10", "fd00::7"],
          annotations: { "frr-advertiser.io/communities": "65000:2 65000:1" },
        }),
        svc("z/lb", {
          clusterIPs: ["10.96.0.9"],
          loadBalancerIPs: ["192.0.2.10"],
          annotations: { "frr-advertiser.io/med": "5" },
        }),
        svc("default/db", { clusterIPs: ["None"] }),
        svc("default/ext", { type: "ExternalName", clusterIPs: [] }),
        svc("default/bad", {
          clusterIPs: ["10.96.0.4"],
          annotations: { "frr-advertiser.io/med": "x", "frr-advertiser.io/mde": "1" },
        }),
        svc("default/down", { clusterIPs: ["10.96.0.5"], loadBalancerIPs: ["10.0.0.01", "192.0.2.11"] }),
        svc("kube-system/dns", { clusterIPs: ["10.96.0.1"] }),
      ],
      endpointSlices: [
        slice("default/web", [
          ep("10.244.2.5"),
          ep("10.244.2.6", { ready: false }),
          ep("10.244.1.7", { nodeName: "n1" }),
        ]),
        slice("default/web", [ep("fd00:244::5")], { addressType: "IPv6" }),
        slice("default/lb", [ep("10.244.1.5", { nodeName: "n1" }), ep("10.244.2.9", TERMINATING_SERVING)]),
        slice("default/lb2", [ep("10.244.2.8")]),
        slice("z/lb", [ep("10.244.2.10")]),
        slice("default/db", [ep("10.244.2.11")]),
        slice("default/down", [ep("10.244.2.12", { ready: false })]),
        slice("kube-system/dns", [ep("10.244.2.13", TERMINATING_SERVING)]),
        slice("other/web", [ep("10.244.2.14")]),
      ],
    };
  }

  /** mulberry32: a tiny seeded PRNG, so a failing shuffle can be replayed. */
  function prng(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function shuffle<T>(items: readonly T[], random: () => number): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  function shuffled(cluster: ClusterSnapshot, seed: number): ClusterSnapshot {
    const random = prng(seed);
    return {
      services: shuffle(cluster.services, random).map((s) => ({
        ...s,
        clusterIPs: shuffle(s.clusterIPs, random),
        loadBalancerIPs: shuffle(s.loadBalancerIPs, random),
      })),
      endpointSlices: shuffle(cluster.endpointSlices, random).map((s) => ({
        ...s,
        endpoints: shuffle(s.endpoints, random),
      })),
    };
  }

  const baseline = computeDesiredState(mixedCluster(), NODE, POLICY);

  void test("the mixed cluster exercises merges, conflicts and problems", () => {
    assert.deepEqual(
      baseline.prefixes.map((p) => `${p.prefix} ${p.services.join(",")}`),
      [
        "10.96.0.1/32 kube-system/dns",
        "10.96.0.2/32 default/lb",
        "10.96.0.3/32 default/lb2",
        "10.96.0.9/32 z/lb",
        "10.96.0.10/32 default/web",
        "192.0.2.10/32 default/lb,default/lb2,z/lb",
        "fd00::7/128 default/lb,default/lb2",
        "fd00:96::a/128 default/web",
      ],
    );
    assert.equal(
      baseline.prefixes[4]?.attributeSet,
      undefined,
      "default/lb (no attributes) sorts first and wins",
    );
    assert.equal(baseline.problems.length, 6, baseline.problems.join("\n"));
  });

  for (const seed of [1, 2, 3, 42, 1234, 99999]) {
    void test(`shuffled input (seed ${seed}) gives deep-equal output`, () => {
      assert.deepEqual(computeDesiredState(shuffled(mixedCluster(), seed), NODE, POLICY), baseline);
    });
  }

  void test("evaluating per Service and combining (in any order) equals computeDesiredState", () => {
    const cluster = mixedCluster();
    const index = indexSlicesByService(cluster.endpointSlices);
    const evaluations = cluster.services.map((s) =>
      evaluateService(s, index.get(`${s.namespace}/${s.name}`) ?? [], NODE, POLICY),
    );
    assert.deepEqual(desiredStateFor(evaluations, NODE, POLICY), baseline);
    assert.deepEqual(desiredStateFor([...evaluations].reverse(), NODE, POLICY), baseline);
  });

  void test("evaluateService depends only on its arguments and does not mutate them", () => {
    const deepFreeze = <T>(value: T): T => {
      if (typeof value === "object" && value !== null) {
        for (const v of Object.values(value)) deepFreeze(v);
        Object.freeze(value);
      }
      return value;
    };
    const service = deepFreeze(
      svc("default/web", { annotations: { "frr-advertiser.io/communities": "65000:1" } }),
    );
    const slices = deepFreeze([READY_ELSEWHERE("default/web")]);
    const node = deepFreeze({ ...NODE });
    const policy = deepFreeze({ ...POLICY });
    const first = evaluateService(service, slices, node, policy);
    computeDesiredState(mixedCluster(), NODE, { ...POLICY, drain: true }); // unrelated work in between
    assert.deepEqual(evaluateService(service, slices, node, policy), first);
    assert.equal(first.prefixes.length, 1);
  });

  void test("indexSlicesByService keys by the slice's own namespace and skips unowned slices", () => {
    const slices = [
      slice("default/web", []),
      slice("other/web", []),
      slice("default/web", []),
      { ...slice("default/x", []), serviceName: undefined },
    ];
    const index = indexSlicesByService(slices);
    assert.deepEqual([...index.keys()].sort(), ["default/web", "other/web"]);
    assert.equal(index.get("default/web")?.length, 2);
  });

  void test("an unparsable policy CIDR is a broken invariant (config/ must validate)", () => {
    assert.throws(
      () =>
        computeDesiredState({ services: [svc("default/web")], endpointSlices: [] }, NODE, {
          ...POLICY,
          excludedIps: ["10.0.0.01"],
        }),
      /policy\.excludedIps: "10\.0\.0\.01"/,
    );
  });

  void test("policy CIDRs with host bits are masked (an exclusion widens, the safe side)", () => {
    const state = computeDesiredState(
      {
        services: [svc("default/web", { clusterIPs: ["10.96.0.200"] })],
        endpointSlices: [READY_ELSEWHERE("default/web")],
      },
      NODE,
      { ...POLICY, excludedIps: ["10.96.0.1/24"] },
    );
    assert.equal(state.decisions[0]?.code, "excluded-ip");
  });
});
