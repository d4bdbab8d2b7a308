// The model's output: what this node advertises, and why, for every (service, address) pair.
// Everything here is sorted and deduplicated by the model so that equal inputs give equal outputs.

import type { AddressKind, IpFamily } from "./snapshot.js";

/** Per-service BGP attributes parsed from annotations; already validated and canonical. */
export interface BgpAttributes {
  /** Standard communities "ASN:VALUE" (or well-known names: no-export, no-advertise, ...), sorted, unique. */
  readonly communities: readonly string[];
  /** Large communities "A:B:C", sorted, unique. */
  readonly largeCommunities: readonly string[];
  readonly localPreference: number | undefined;
  /** MED */
  readonly med: number | undefined;
  /** ASNs prepended, in order. */
  readonly asPathPrepend: readonly number[];
  /**
   * Weighted ECMP: the link-bandwidth extended community's value (Mbit/s, 1..maxWeight), the
   * number of this node's usable local endpoints (weightedEcmpWeight). Unset: not weighted.
   */
  readonly linkBandwidth?: number;
}

/** A distinct attribute set; every prefix carrying it shares one route-map entry. */
export interface AttributeSet {
  /** Stable name derived from the attributes' content (e.g. "FRRADV-A-1a2b3c4d5e6f7a8b"). */
  readonly name: string;
  readonly attributes: BgpAttributes;
}

export interface AdvertisedPrefix {
  /** "10.0.0.7/32" or "fd00::7/128", canonical form. */
  readonly prefix: string;
  /** The bare address, canonical form ("fd00::7"). */
  readonly address: string;
  readonly family: IpFamily;
  /** Name of the AttributeSet, or undefined when the prefix carries no attributes. */
  readonly attributeSet: string | undefined;
  /** "ns/name" of every Service that wants this prefix, sorted. */
  readonly services: readonly string[];
}

/** Stable machine-readable verdict codes (metrics label values); `reason` is the human text. */
export type ReasonCode =
  | "advertised"
  | "no-ready-endpoints"
  | "no-local-ready-endpoints"
  | "headless"
  | "external-name"
  | "address-kind-disabled"
  | "family-disabled"
  | "namespace-excluded"
  | "selector-excluded"
  | "opted-out"
  | "outside-allowed-cidrs"
  | "excluded-ip"
  | "invalid-address"
  | "invalid-annotation"
  | "node-excluded"
  | "node-draining"
  /** This node's Node object is not there (not seen yet, or deleted): fail closed, not a drain. */
  | "node-unknown"
  /** Ready again, but its announcement flapped: re-announced once stable for a backoff. */
  | "flap-damped";

export interface Decision {
  readonly service: string;
  /** The address as written in the Service ("" when the Service has none, e.g. ExternalName). */
  readonly address: string;
  readonly kind: AddressKind;
  readonly advertise: boolean;
  readonly code: ReasonCode;
  readonly reason: string;
  /** Advertised with weighted ECMP: the link-bandwidth weight this node announces. */
  readonly weight?: number;
}

/** Withdrawals the mass-withdrawal breaker holds (see model/withdrawal-breaker.ts). */
export interface WithdrawalHold {
  readonly since: number;
  /** When they are applied if the state has not recovered by then. */
  readonly until: number;
  readonly held: readonly AdvertisedPrefix[];
  /** Prefixes advertised before the pass that would have withdrawn them. */
  readonly advertised: number;
  /** What the withdrawn prefixes' Services look like now, counted ("9 Service gone"). */
  readonly reason: string;
}

/** A node drain under way: its prefixes stay advertised, with GRACEFUL_SHUTDOWN, until `until`. */
export interface GracefulDrain {
  readonly since: number;
  readonly until: number;
  readonly prefixes: readonly AdvertisedPrefix[];
}

export interface DesiredState {
  /** Sorted: IPv4 before IPv6, then numerically by address. */
  readonly prefixes: readonly AdvertisedPrefix[];
  /** Sorted by name. Only sets used by at least one advertised prefix. */
  readonly attributeSets: readonly AttributeSet[];
  /** Sorted by service, then kind, then address. */
  readonly decisions: readonly Decision[];
  /** Human-readable problems with cluster input (bad annotations, conflicts), sorted, unique. */
  readonly problems: readonly string[];
  /**
   * Set while the mass-withdrawal breaker holds withdrawals: their prefixes are in `prefixes`
   * (still advertised) and listed here.
   */
  readonly withdrawalHold?: WithdrawalHold;
  /**
   * Set while this node's drain waits (RFC 8326): `prefixes` are still the advertised ones, and
   * the render asks FRR to send them with the GRACEFUL_SHUTDOWN community.
   */
  readonly gracefulDrain?: GracefulDrain;
  /**
   * Ids (address or interface) of the configured neighbours this node peers with
   * (neighborsForNode). Undefined: every configured neighbour (a state made without a node).
   */
  readonly neighbors?: readonly string[];
}
