// The part of the configuration the desired-state rules read, as plain data.
// config/ validates the YAML into this shape; model/ never sees raw input.

import type { NeighborScope } from "./neighbors.js";
import type { AddressKind, IpFamily } from "./snapshot.js";

/** A parsed Kubernetes label selector (the string form `a=b,c!=d,e in (x,y),!f,g`). */
export type LabelRequirement =
  | { readonly key: string; readonly op: "in"; readonly values: readonly string[] }
  | { readonly key: string; readonly op: "notin"; readonly values: readonly string[] }
  | { readonly key: string; readonly op: "exists" }
  | { readonly key: string; readonly op: "doesnotexist" };

export interface AdvertisePolicy {
  /** Address families BGP carries (bgp.families): an address of another family is not advertised. */
  readonly families: readonly IpFamily[];
  /** Which address kinds may be advertised at all. */
  readonly addressKinds: Readonly<Record<AddressKind, boolean>>;
  /** Only addresses inside one of these CIDRs are advertised (normalised, e.g. "10.96.0.0/12"). */
  readonly allowedCidrs: readonly string[];
  /** Never advertised, never touched on the interface (single IPs or CIDRs). */
  readonly excludedIps: readonly string[];
  /** Empty = all namespaces. */
  readonly includeNamespaces: readonly string[];
  readonly excludeNamespaces: readonly string[];
  /** All requirements must match the Service's labels. Empty = every Service. */
  readonly serviceSelector: readonly LabelRequirement[];
  /** Withdraw everything when the Node is cordoned (spec.unschedulable). */
  readonly withdrawWhenUnschedulable: boolean;
  /** Operator's drain switch from the config/env: advertise nothing from this node. */
  readonly drain: boolean;
  /** This node's name (config or NODE_NAME), known before its Node object is. */
  readonly nodeName: string;
  /** Which configured neighbours apply to which nodes (neighborsForNode). */
  readonly neighborScopes: readonly NeighborScope[];
  /** advertise.weightedEcmp; unset = off (the annotation can still switch it on per Service). */
  readonly weightedEcmp?: WeightedEcmpPolicy;
}

export interface WeightedEcmpPolicy {
  /** Default for Services without the weighted-ecmp annotation. */
  readonly enabled: boolean;
  /** Upper bound of the announced weight (link bandwidth in Mbit/s). */
  readonly maxWeight: number;
}

/** Default bound of the weight: at most this many route-maps per distinct attribute set. */
export const DEFAULT_MAX_WEIGHT = 100;

/** Annotation keys live under this prefix (public contract, see README). */
export const ANNOTATION_PREFIX = "frr-advertiser.io/";
