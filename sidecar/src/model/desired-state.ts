// The advertisement rules (README, "Which prefixes, from which node"): which Service addresses
// this node announces, with which BGP attributes, and why. Pure: evaluateService depends only on its arguments, so the live
// reconciler can cache one evaluation per Service and re-run combineEvaluations on any change.

import { exactSize } from "./exact-size.js";
import { neighborsForNode } from "./neighbors.js";
import { parseServiceAnnotations, type ServiceAnnotations } from "./annotations.js";
import { claimWinner, type Claim } from "./prefix-claims.js";
import { attributesKey, compareStrings, nameAttributeSets } from "./attribute-sets.js";
import type {
  AdvertisedPrefix,
  AttributeSet,
  BgpAttributes,
  Decision,
  DesiredState,
  ReasonCode,
} from "./desired-state-types.js";
import { countEndpoints, type EndpointCounts, type ServiceHealth } from "./endpoint-health.js";
import { maxWeightOf, weightedEcmpEnabled, weightedEcmpWeight } from "./weighted-ecmp.js";
import {
  cidrContains,
  compareIps,
  hostPrefix,
  parseIp,
  parseIpOrCidr,
  type Cidr,
  type IpAddress,
} from "./ip.js";
import { matchesSelector } from "./label-selector.js";
import { ANNOTATION_PREFIX, type AdvertisePolicy } from "./policy.js";
import {
  serviceKey,
  type AddressKind,
  type ClusterSnapshot,
  type EndpointSliceSnapshot,
  type NodeSnapshot,
  type ServiceSnapshot,
} from "./snapshot.js";

/** A prefix one Service wants advertised from this node. */
export interface WantedPrefix {
  readonly ip: IpAddress;
  /** "10.0.0.7/32" or "fd00::7/128". */
  readonly prefix: string;
  readonly attributes: BgpAttributes | undefined;
}

/** Everything one Service contributes; the unit the reconciler caches. */
export interface ServiceEvaluation {
  readonly service: string;
  readonly decisions: readonly Decision[];
  /** Only addresses whose decision is "advertised". */
  readonly prefixes: readonly WantedPrefix[];
  /** Problems with this Service's own input (bad annotations, unparsable addresses). */
  readonly problems: readonly string[];
}

interface Verdict {
  readonly code: ReasonCode;
  readonly reason: string;
  /** Advertised with weighted ECMP: the link-bandwidth weight (weighted-ecmp.ts). */
  readonly weight?: number;
}

/** What every address of one Service is judged against. */
interface ServiceContext {
  readonly service: ServiceSnapshot;
  readonly policy: AdvertisePolicy;
  readonly networks: PolicyNetworks;
  readonly node: NodeSnapshot | undefined;
  /** The first failed Service-wide gate (node, namespace, selector, annotations), if any. */
  readonly gate: Verdict | undefined;
  readonly attributes: BgpAttributes | undefined;
  readonly health: ServiceHealth;
  /** Local-policy addresses carry a link-bandwidth weight (annotation, else config). */
  readonly weighted: boolean;
}

interface PolicyNetworks {
  readonly allowed: readonly Cidr[];
  readonly excluded: readonly Cidr[];
}

const EXCLUDE_NODE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers";
const DRAIN_ANNOTATION = `${ANNOTATION_PREFIX}drain`;
const AUTOSCALER_TAINT = "ToBeDeletedByClusterAutoscaler";
const KIND_ORDER: Readonly<Record<AddressKind, number>> = { clusterIP: 0, loadBalancer: 1, externalIP: 2 };

/** Index, evaluate each Service, combine. */
export function computeDesiredState(
  snapshot: ClusterSnapshot,
  node: NodeSnapshot | undefined,
  policy: AdvertisePolicy,
): DesiredState {
  const slicesByService = indexSlicesByService(snapshot.endpointSlices);
  const evaluator = new ServiceEvaluator(policy);
  const evaluations = snapshot.services.map((service) =>
    evaluator.evaluate(service, slicesByService.get(serviceKey(service)) ?? [], node),
  );
  return desiredStateFor(evaluations, node, policy);
}

/**
 * The node's whole desired state from per-Service evaluations: the prefixes (combineEvaluations)
 * and the neighbours it peers with. The reconciler's incremental path and computeDesiredState
 * both end here, so they cannot differ.
 */
export function desiredStateFor(
  evaluations: Iterable<ServiceEvaluation>,
  node: NodeSnapshot | undefined,
  policy: AdvertisePolicy,
): DesiredState {
  return { ...combineEvaluations(evaluations), neighbors: neighborsForNode(policy, node) };
}

/**
 * "ns/name" → the Service's slices. The key uses the slice's own namespace: a slice in another
 * namespace that carries the same service-name label belongs to a different Service.
 */
export function indexSlicesByService(
  slices: readonly EndpointSliceSnapshot[],
): Map<string, readonly EndpointSliceSnapshot[]> {
  const index = new Map<string, EndpointSliceSnapshot[]>();
  for (const slice of slices) {
    if (slice.serviceName === undefined || slice.serviceName === "") continue;
    const key = serviceKey({ namespace: slice.namespace, name: slice.serviceName });
    const list = index.get(key);
    if (list === undefined) index.set(key, [slice]);
    else list.push(slice);
  }
  return index;
}

/**
 * Judges Services under one policy; owns that policy's parsed CIDRs (parsed once, not per
 * Service). The reconciler keeps one for as long as its config lives.
 */
export class ServiceEvaluator {
  private readonly networks: PolicyNetworks;

  constructor(private readonly policy: AdvertisePolicy) {
    this.networks = compilePolicyNetworks(policy);
  }

  /** Judges every address of one Service; `slices` must already be this Service's slices. */
  evaluate(
    service: ServiceSnapshot,
    slices: readonly EndpointSliceSnapshot[],
    node: NodeSnapshot | undefined,
  ): ServiceEvaluation {
    return judgeService(service, slices, node, { policy: this.policy, networks: this.networks });
  }
}

/** One Service under `policy` (parses the policy's CIDRs: for many Services, a ServiceEvaluator). */
export function evaluateService(
  service: ServiceSnapshot,
  slices: readonly EndpointSliceSnapshot[],
  node: NodeSnapshot | undefined,
  policy: AdvertisePolicy,
): ServiceEvaluation {
  return judgeService(service, slices, node, { policy, networks: compilePolicyNetworks(policy) });
}

function judgeService(
  service: ServiceSnapshot,
  slices: readonly EndpointSliceSnapshot[],
  node: NodeSnapshot | undefined,
  { policy, networks }: { readonly policy: AdvertisePolicy; readonly networks: PolicyNetworks },
): ServiceEvaluation {
  const key = serviceKey(service);
  if (service.type === "ExternalName") {
    const verdict = { code: "external-name", reason: "not advertised: type ExternalName has no IP" } as const;
    return {
      service: key,
      decisions: [toDecision(key, "clusterIP", "", verdict)],
      prefixes: [],
      problems: [],
    };
  }
  const scope = scopeVerdict(service, policy);
  // Out-of-scope Services are none of our business: their annotations are not even read.
  const annotations = scope === undefined ? parseServiceAnnotations(service) : undefined;
  const context: ServiceContext = {
    service,
    policy,
    networks,
    node,
    gate: nodeVerdict(node, policy) ?? scope ?? annotationVerdict(annotations),
    attributes: annotations?.ok === true ? annotations.attributes : undefined,
    health: countEndpoints(slices, node?.name),
    weighted: weightedEcmpEnabled(policy, weightedEcmpAnnotation(annotations)),
  };
  const decisions: Decision[] = [];
  const prefixes: WantedPrefix[] = [];
  for (const [kind, address] of addressesOf(service)) {
    const { verdict, ip } = judgeAddress(context, kind, address);
    decisions.push(toDecision(key, kind, address, verdict));
    if (verdict.code === "advertised" && ip !== undefined) {
      prefixes.push({
        ip,
        prefix: hostPrefix(ip),
        attributes: withWeight(context.attributes, verdict.weight),
      });
    }
  }
  const problems = scope === undefined ? inputProblems(service, policy, annotations) : [];
  // Sorted here, once per change: combineEvaluations then only orders whole Services. Kept until
  // the Service changes (10k of them): at their exact size.
  return {
    service: key,
    decisions: exactSize(sortDecisions(decisions)),
    prefixes: exactSize(prefixes),
    problems: exactSize(problems),
  };
}

function weightedEcmpAnnotation(annotations: ServiceAnnotations | undefined): boolean | undefined {
  return annotations?.ok === true ? annotations.weightedEcmp : undefined;
}

/** Every (kind, address) the Service carries, in kind order; empty strings are "not set". */
function addressesOf(service: ServiceSnapshot): [AddressKind, string][] {
  const pairs: [AddressKind, string][] = [
    ...service.clusterIPs.map((a): [AddressKind, string] => ["clusterIP", a]),
    ...service.loadBalancerIPs.map((a): [AddressKind, string] => ["loadBalancer", a]),
    ...service.externalIPs.map((a): [AddressKind, string] => ["externalIP", a]),
  ];
  return pairs.filter(([, address]) => address !== "");
}

/** The checks, in the documented order; the first that fails decides. */
function judgeAddress(
  context: ServiceContext,
  kind: AddressKind,
  address: string,
): { verdict: Verdict; ip?: IpAddress } {
  if (kind === "clusterIP" && address === "None") {
    return { verdict: { code: "headless", reason: "not advertised: headless Service (clusterIP None)" } };
  }
  const early = context.gate ?? kindVerdict(kind, context.policy);
  if (early !== undefined) return { verdict: early };
  const parsed = parseIp(address);
  if (!parsed.ok) {
    const reason = `not advertised: ${JSON.stringify(address)} is not an IP address (${parsed.error})`;
    return { verdict: { code: "invalid-address", reason } };
  }
  const ip = parsed.value;
  const verdict =
    familyVerdict(ip, context.policy) ?? networkVerdict(ip, context.networks) ?? healthVerdict(context, kind);
  return { verdict, ip };
}

function toDecision(service: string, kind: AddressKind, address: string, verdict: Verdict): Decision {
  return {
    service,
    address,
    kind,
    advertise: verdict.code === "advertised",
    code: verdict.code,
    reason: verdict.reason,
    ...(verdict.weight === undefined ? {} : { weight: verdict.weight }),
  };
}

const NO_ATTRIBUTES: BgpAttributes = {
  communities: [],
  largeCommunities: [],
  localPreference: undefined,
  med: undefined,
  asPathPrepend: [],
};

/** The weight is part of the prefix's attributes: one route-map per (attributes, weight) pair. */
function withWeight(
  attributes: BgpAttributes | undefined,
  weight: number | undefined,
): BgpAttributes | undefined {
  if (weight === undefined) return attributes;
  return { ...(attributes ?? NO_ATTRIBUTES), linkBandwidth: weight };
}

/** A node that is excluded, draining, or not yet known advertises nothing. */
function nodeVerdict(node: NodeSnapshot | undefined, policy: AdvertisePolicy): Verdict | undefined {
  if (node === undefined) {
    // Without our Node object we cannot tell whether it is excluded or draining: fail closed.
    // Not a drain, though: the withdrawal breaker holds a mass withdrawal for this reason.
    if (policy.drain) return { code: "node-draining", reason: "not advertised: drain switch is on" };
    return { code: "node-unknown", reason: "not advertised: node object not seen (yet, or deleted)" };
  }
  if (Object.hasOwn(node.labels, EXCLUDE_NODE_LABEL)) {
    return {
      code: "node-excluded",
      reason: `not advertised: node ${node.name} has label ${EXCLUDE_NODE_LABEL}`,
    };
  }
  const why = drainCause(node, policy);
  return why === undefined
    ? undefined
    : { code: "node-draining", reason: `not advertised: node ${node.name} is draining (${why})` };
}

function drainCause(node: NodeSnapshot, policy: AdvertisePolicy): string | undefined {
  if (policy.drain) return "drain switch is on";
  // Exactly "true", like Kubernetes' own boolean annotations; anything else does not drain.
  if (node.annotations[DRAIN_ANNOTATION] === "true") return `annotation ${DRAIN_ANNOTATION}=true`;
  if (node.taints.some((taint) => taint.key === AUTOSCALER_TAINT)) return `taint ${AUTOSCALER_TAINT}`;
  if (policy.withdrawWhenUnschedulable && node.unschedulable)
    return "cordoned, and withdrawWhenUnschedulable is on";
  return undefined;
}

/** Namespace include/exclude, then the label selector. */
function scopeVerdict(service: ServiceSnapshot, policy: AdvertisePolicy): Verdict | undefined {
  const ns = service.namespace;
  if (policy.excludeNamespaces.includes(ns)) {
    return { code: "namespace-excluded", reason: `not advertised: namespace ${ns} is in excludeNamespaces` };
  }
  if (policy.includeNamespaces.length > 0 && !policy.includeNamespaces.includes(ns)) {
    return {
      code: "namespace-excluded",
      reason: `not advertised: namespace ${ns} is not in includeNamespaces`,
    };
  }
  if (!matchesSelector(service.labels, policy.serviceSelector)) {
    return { code: "selector-excluded", reason: "not advertised: labels do not match the service selector" };
  }
  return undefined;
}

/** Opt-out first (it is the user's explicit wish), then fail closed on any invalid annotation. */
function annotationVerdict(annotations: ServiceAnnotations | undefined): Verdict | undefined {
  if (annotations === undefined) return undefined;
  if (annotations.optOut) {
    return { code: "opted-out", reason: `not advertised: annotation ${ANNOTATION_PREFIX}advertise=false` };
  }
  if (annotations.ok) return undefined;
  const keys = [...new Set(annotations.errors.map((e) => e.key))].join(", ");
  return { code: "invalid-annotation", reason: `not advertised: invalid annotation ${keys} (see problems)` };
}

function kindVerdict(kind: AddressKind, policy: AdvertisePolicy): Verdict | undefined {
  if (policy.addressKinds[kind]) return undefined;
  return { code: "address-kind-disabled", reason: `not advertised: address kind ${kind} is disabled` };
}

/** bgp.families decides here, once: frr.conf, addresses, metrics and --explain all follow it. */
function familyVerdict(ip: IpAddress, policy: AdvertisePolicy): Verdict | undefined {
  if (policy.families.includes(ip.family)) return undefined;
  return { code: "family-disabled", reason: `not advertised: ${ip.family} is not in bgp.families` };
}

function networkVerdict(ip: IpAddress, networks: PolicyNetworks): Verdict | undefined {
  const excludedBy = networks.excluded.find((cidr) => cidrContains(cidr, ip));
  if (excludedBy !== undefined) {
    return {
      code: "excluded-ip",
      reason: `not advertised: ${ip.text} is excluded (excludedIps ${excludedBy.text})`,
    };
  }
  if (!networks.allowed.some((cidr) => cidrContains(cidr, ip))) {
    return {
      code: "outside-allowed-cidrs",
      reason: `not advertised: ${ip.text} is outside the allowed CIDRs`,
    };
  }
  return undefined;
}

/**
 * externalTrafficPolicy governs loadBalancer and external IPs, internalTrafficPolicy cluster IPs:
 * Local means only a node with a usable endpoint of its own may attract the traffic.
 */
function healthVerdict(context: ServiceContext, kind: AddressKind): Verdict {
  const policyName = kind === "clusterIP" ? "internalTrafficPolicy" : "externalTrafficPolicy";
  const local = context.service[policyName] === "Local";
  const nodeName = context.node?.name ?? "(unknown)";
  const counts = local ? context.health.local : context.health.clusterWide;
  const where = local ? `on node ${nodeName} (${policyName}=Local)` : "cluster-wide";
  const { weighted, suffix } = weightOf(context, local, counts);
  if (counts.ready > 0) {
    const reason = `advertised: ${plural(counts.ready, "ready endpoint")} ${where}${suffix}`;
    return { code: "advertised", reason, ...weighted };
  }
  if (counts.servingTerminating > 0) {
    const reason = `advertised: serving-terminating endpoints only (${counts.servingTerminating} ${where}), so connections drain${suffix}`;
    return { code: "advertised", reason, ...weighted };
  }
  if (local) {
    return {
      code: "no-local-ready-endpoints",
      reason: `not advertised: ${policyName}=Local and no ready endpoint on node ${nodeName}`,
    };
  }
  return { code: "no-ready-endpoints", reason: "not advertised: no ready endpoints cluster-wide" };
}

/** Only Local addresses: with Cluster every node forwards anywhere, so equal shares are right. */
function weightOf(
  context: ServiceContext,
  local: boolean,
  counts: EndpointCounts,
): { weighted: { weight?: number }; suffix: string } {
  const weight =
    local && context.weighted ? weightedEcmpWeight(counts, maxWeightOf(context.policy)) : undefined;
  if (weight === undefined) return { weighted: {}, suffix: "" };
  return { weighted: { weight }, suffix: `; weighted ECMP: link bandwidth ${weight}` };
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** Annotation errors and unparsable addresses of enabled kinds, whatever the node's state. */
function inputProblems(
  service: ServiceSnapshot,
  policy: AdvertisePolicy,
  annotations: ServiceAnnotations | undefined,
): string[] {
  const problems = annotations?.ok === false ? annotations.errors.map((e) => e.message) : [];
  for (const [kind, address] of addressesOf(service)) {
    if (!policy.addressKinds[kind] || (kind === "clusterIP" && address === "None")) continue;
    const parsed = parseIp(address);
    if (!parsed.ok) {
      problems.push(
        `Service ${serviceKey(service)}: ${kind} ${JSON.stringify(address)} is not an IP address (${parsed.error})`,
      );
    }
  }
  return problems;
}

/**
 * Parses the policy's CIDRs once per policy object. Host bits are masked (config/ does the same
 * for allowed CIDRs; for excluded ones it widens the exclusion, the safe side). An unparsable
 * entry means config/ failed to validate: a broken invariant, so it throws.
 */
function compilePolicyNetworks(policy: AdvertisePolicy): PolicyNetworks {
  return {
    allowed: policy.allowedCidrs.map((text) => parsePolicyCidr("allowedCidrs", text)),
    excluded: policy.excludedIps.map((text) => parsePolicyCidr("excludedIps", text)),
  };
}

function parsePolicyCidr(field: string, text: string): Cidr {
  const parsed = parseIpOrCidr(text, "mask");
  if (!parsed.ok)
    throw new Error(`policy.${field}: ${JSON.stringify(text)} is not an IP or CIDR (${parsed.error})`);
  return parsed.value;
}

/** Merges per-Service evaluations into the node's sorted, deduplicated desired state. */
export function combineEvaluations(evaluations: Iterable<ServiceEvaluation>): DesiredState {
  const problems = new Set<string>();
  const claimsByPrefix = new Map<string, Claim[]>();
  const ordered = [...evaluations].sort((a, b) => compareStrings(a.service, b.service));
  for (const evaluation of ordered) {
    for (const problem of evaluation.problems) problems.add(problem);
    for (const wanted of evaluation.prefixes) {
      const claims = claimsByPrefix.get(wanted.prefix) ?? [];
      claims.push({ service: evaluation.service, wanted });
      claimsByPrefix.set(wanted.prefix, claims);
    }
  }
  const merged = [...claimsByPrefix.values()].map((claims) => mergeClaims(claims, problems));
  const names = nameAttributeSets(
    merged.filter((m) => m.attributes !== undefined).map((m) => attributesKey(m.attributes)),
  );
  return {
    prefixes: merged.sort((a, b) => compareIps(a.ip, b.ip)).map((m) => toAdvertisedPrefix(m, names)),
    attributeSets: toAttributeSets(merged, names),
    decisions: concatDecisions(ordered),
    problems: [...problems].sort(compareStrings),
  };
}

interface MergedPrefix {
  readonly ip: IpAddress;
  readonly prefix: string;
  readonly services: readonly string[];
  readonly attributes: BgpAttributes | undefined;
}

/**
 * One IP wanted by several Services is advertised once (claimWinner picks whose attributes); if
 * their attributes differ, the conflict is reported.
 */
function mergeClaims(claims: readonly Claim[], problems: Set<string>): MergedPrefix {
  const [only] = claims;
  if (claims.length === 1 && only !== undefined) {
    // The common case, and the one that must stay cheap at 10k: nothing to merge.
    const { ip, prefix, attributes } = only.wanted;
    return { ip, prefix, services: [only.service], attributes };
  }
  const sorted = [...claims].sort((a, b) => compareStrings(a.service, b.service));
  const winner = claimWinner(sorted);
  if (winner === undefined) throw new Error("mergeClaims: no claims");
  const winnerKey = attributesKey(winner.wanted.attributes);
  for (const claim of sorted) {
    if (attributesKey(claim.wanted.attributes) !== winnerKey) {
      problems.add(
        `Services ${winner.service} and ${claim.service} both advertise ${winner.wanted.prefix} with different BGP attributes; using those of ${winner.service}`,
      );
    }
  }
  return {
    ip: winner.wanted.ip,
    prefix: winner.wanted.prefix,
    services: [...new Set(sorted.map((c) => c.service))],
    attributes: winner.wanted.attributes,
  };
}

function toAdvertisedPrefix(merged: MergedPrefix, names: ReadonlyMap<string, string>): AdvertisedPrefix {
  return {
    prefix: merged.prefix,
    address: merged.ip.text,
    family: merged.ip.family,
    attributeSet: merged.attributes === undefined ? undefined : names.get(attributesKey(merged.attributes)),
    services: merged.services,
  };
}

function toAttributeSets(
  merged: readonly MergedPrefix[],
  names: ReadonlyMap<string, string>,
): AttributeSet[] {
  const sets = new Map<string, AttributeSet>();
  for (const { attributes } of merged) {
    const name = attributes === undefined ? undefined : names.get(attributesKey(attributes));
    if (attributes !== undefined && name !== undefined) sets.set(name, { name, attributes });
  }
  return [...sets.values()].sort((a, b) => compareStrings(a.name, b.name));
}

/**
 * The node's decisions in sortDecisions order from evaluations sorted by service, each holding its
 * own sorted decisions: concatenation, except where two evaluations name the same Service (a file
 * that repeats one), whose decisions are sorted together.
 */
function concatDecisions(ordered: readonly ServiceEvaluation[]): Decision[] {
  const out: Decision[] = [];
  for (let i = 0; i < ordered.length;) {
    let j = i + 1;
    while (j < ordered.length && ordered[j]?.service === ordered[i]?.service) j++;
    const run =
      j - i === 1
        ? (ordered[i]?.decisions ?? [])
        : sortDecisions(ordered.slice(i, j).flatMap((e) => e.decisions));
    for (const d of run) out.push(d);
    i = j;
  }
  return out;
}

/**
 * By service, then kind (clusterIP, loadBalancer, externalIP), then address: valid addresses
 * numerically (IPv4 first), then unparsable ones as text. Exact (service, kind, address) repeats go.
 */
function sortDecisions(decisions: readonly Decision[]): Decision[] {
  const keyed = decisions.map((decision) => ({ decision, ip: parseIp(decision.address) }));
  keyed.sort((a, b) => compareDecisions(a, b));
  const unique: Decision[] = [];
  for (const { decision } of keyed) {
    const last = unique.at(-1);
    const repeat =
      last?.service === decision.service && last.kind === decision.kind && last.address === decision.address;
    if (!repeat) unique.push(decision);
  }
  return unique;
}

type KeyedDecision = { readonly decision: Decision; readonly ip: ReturnType<typeof parseIp> };

function compareDecisions(a: KeyedDecision, b: KeyedDecision): number {
  const byService = compareStrings(a.decision.service, b.decision.service);
  if (byService !== 0) return byService;
  const byKind = KIND_ORDER[a.decision.kind] - KIND_ORDER[b.decision.kind];
  if (byKind !== 0) return byKind;
  if (a.ip.ok && b.ip.ok)
    return compareIps(a.ip.value, b.ip.value) || compareStrings(a.decision.address, b.decision.address);
  if (a.ip.ok !== b.ip.ok) return a.ip.ok ? -1 : 1;
  return compareStrings(a.decision.address, b.decision.address);
}
