// The template context, version 1: the public contract between the advertiser and the
// user-editable templates (documented field by field in frr-templates/README.md).
// Plain, sorted, pre-formatted data only; changing a field's meaning needs a new version.

export const CONTEXT_VERSION = 1;

export interface TemplateContext {
  readonly version: typeof CONTEXT_VERSION;
  readonly hostname: string;
  /** FRR's `log stdout` level word; "" for FRR's default (debugging), which FRR prints without a word. */
  readonly logLevel: string;
  /** Local ASN, decimal. */
  readonly asn: string;
  /** "" when unset (FRR picks one). */
  readonly routerId: string;
  /** Global `bgp graceful-restart`. */
  readonly gracefulRestart: boolean;
  /**
   * This node drains (RFC 8326): for a few seconds before its routes are withdrawn, every route
   * is sent with the GRACEFUL_SHUTDOWN community (`bgp graceful-shutdown` in `router bgp`).
   */
  readonly gracefulShutdown: boolean;
  readonly mode: "network" | "connected";
  /** One line: why this mode (the auto rule), for a comment. */
  readonly modeReason: string;
  readonly isNetworkMode: boolean;
  readonly isConnectedMode: boolean;
  /** The interface that holds the service addresses. */
  readonly interface: string;
  /** Route-map applied inbound on every session (denies everything by default). */
  readonly importRouteMap: string;
  /** Sorted: unnumbered by interface name, then numbered by address (IPv4 first). */
  readonly neighbors: readonly NeighborContext[];
  /** The enabled families, ipv4 first: iterate this to render one address-family block each. */
  readonly families: readonly FamilyContext[];
  readonly ipv4: FamilyContext;
  readonly ipv6: FamilyContext;
  /** Network mode: one route-map per distinct attribute set used by a rendered prefix. Sorted by name. */
  readonly attributeSets: readonly AttributeSetContext[];
  readonly counts: Counts;
}

export interface NeighborContext {
  /** The token after `neighbor`: the address (numbered) or the interface name (unnumbered). */
  readonly id: string;
  readonly isUnnumbered: boolean;
  /** Canonical address, "" when unnumbered. */
  readonly address: string;
  /** Interface name, "" when numbered. */
  readonly interface: string;
  /** "internal", "external" or a decimal ASN. */
  readonly remoteAs: string;
  /** "" when none. */
  readonly description: string;
  readonly bfd: boolean;
  readonly gracefulRestart: boolean;
  /** TCP-MD5 password, "" when none. One printable token. */
  readonly password: string;
  /** Decimal TTL, "" when unset. */
  readonly ebgpMultihop: string;
  /** "KEEPALIVE HOLD", "" when unset. */
  readonly timers: string;
  /** Activated in that address family (wanted by the neighbour and enabled globally). */
  readonly ipv4: boolean;
  readonly ipv6: boolean;
}

export interface PrefixListEntry {
  readonly seq: number;
  /** What follows `seq N`: "permit 10.96.0.0/12 ge 32", "deny 10.96.0.10/32", "deny any". */
  readonly line: string;
}

export interface PrefixList {
  readonly name: string;
  /** Sorted by seq; never empty. */
  readonly entries: readonly PrefixListEntry[];
}

export interface AdvertisedPrefixContext {
  /** "10.96.0.10/32", "fd00::10/128". */
  readonly prefix: string;
  /** Network mode: the attribute set's route-map name, or "". Always "" in connected mode. */
  readonly routeMap: string;
  /** The attribute set's name, or "" (both modes). */
  readonly attributeSet: string;
}

export interface ConnectedRouteMapEntry {
  readonly seq: number;
  /** The prefix-list this entry matches (an attribute set's, or the allowed-CIDR list). */
  readonly prefixList: string;
  /** Pre-formatted `set ...` lines; empty for the plain entry. */
  readonly sets: readonly string[];
}

export interface ConnectedRouteMap {
  readonly name: string;
  /** Sorted by seq: attribute-set entries first, the plain allowed-CIDR entry last. */
  readonly entries: readonly ConnectedRouteMapEntry[];
}

export interface FamilyContext {
  readonly enabled: boolean;
  /** "ipv4" | "ipv6": `address-family {{afi}} unicast`. */
  readonly afi: "ipv4" | "ipv6";
  /** "ip" | "ipv6": `{{ipWord}} prefix-list`, `match {{ipWord}} address prefix-list`. */
  readonly ipWord: "ip" | "ipv6";
  /** This family's advertised prefixes, sorted numerically. */
  readonly prefixes: readonly AdvertisedPrefixContext[];
  /** Neighbours activated in this family (same order as the top-level list). */
  readonly neighbors: readonly { readonly id: string }[];
  readonly importRouteMap: string;
  /** Outbound route-map: permits exactly what allowedPrefixList permits. */
  readonly exportRouteMap: string;
  /** Static filter from the config (excluded IPs denied, allowed CIDRs' host routes permitted). */
  readonly allowedPrefixList: PrefixList;
  /** Connected mode only (empty in network mode): one per attribute set with prefixes in this family. */
  readonly attributePrefixLists: readonly PrefixList[];
  /** Connected mode: the `redistribute connected` route-map; entries empty in network mode. */
  readonly connectedRouteMap: ConnectedRouteMap;
}

export interface AttributeSetContext {
  /** Route-map name, e.g. "FRRADV-A-1a2b3c4d5e6f7a8b". */
  readonly name: string;
  /** Pre-formatted `set ...` lines, in FRR's display order. */
  readonly sets: readonly string[];
}

export interface Counts {
  readonly prefixes: number;
  readonly ipv4Prefixes: number;
  readonly ipv6Prefixes: number;
  readonly attributeSets: number;
  readonly neighbors: number;
}
