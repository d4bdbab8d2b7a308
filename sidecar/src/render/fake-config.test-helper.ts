// Test support for render/: a valid RenderConfig and desired-state builders, so tests
// state only what they vary. Not imported by production code.

import type { Config, Neighbor } from "../config/load-config.js";
import type { RenderConfig } from "./context.js";
import type {
  AdvertisedPrefix,
  AttributeSet,
  BgpAttributes,
  DesiredState,
} from "../model/desired-state-types.js";
import type { IpFamily } from "../model/snapshot.js";

export interface ConfigOverrides {
  readonly mode?: Config["mode"];
  readonly families?: readonly IpFamily[];
  readonly neighbors?: readonly Neighbor[];
  readonly allowedCidrs?: readonly string[];
  readonly excludedIps?: readonly string[];
  readonly logLevel?: Config["frr"]["logLevel"];
}

export function neighbor(fields: Partial<Neighbor> & Pick<Neighbor, "remoteAs">): Neighbor {
  return { bfd: false, gracefulRestart: false, families: ["ipv4", "ipv6"], password: undefined, ...fields };
}

export function fakeConfig(o: ConfigOverrides = {}): RenderConfig {
  const mode = o.mode ?? "network";
  return {
    bgp: {
      asn: 65001,
      routerId: "10.0.0.1",
      hostname: "node-a",
      families: o.families ?? ["ipv4", "ipv6"],
      gracefulRestart: false,
      neighbors: o.neighbors ?? [neighbor({ address: "192.0.2.1", remoteAs: 65000 })],
    },
    mode,
    modeReason: `advertise.mode is ${mode}`,
    interface: mode === "network" ? "lo" : "kube-lb",
    policy: {
      allowedCidrs: o.allowedCidrs ?? ["10.96.0.0/12", "fd00:10::/64"],
      excludedIps: o.excludedIps ?? [],
    },
    frr: { logLevel: o.logLevel ?? "informational" },
  };
}

export function attributes(fields: Partial<BgpAttributes>): BgpAttributes {
  return {
    communities: [],
    largeCommunities: [],
    localPreference: undefined,
    med: undefined,
    asPathPrepend: [],
    ...fields,
  };
}

/** The n-th test prefix: 10.96.x.y for IPv4, fd00:10::n for IPv6 (increasing with n). */
export function prefixAt(family: IpFamily, n: number, attributeSet?: string): AdvertisedPrefix {
  const address =
    family === "ipv4" ? `10.96.${Math.floor(n / 256) % 256}.${n % 256}` : `fd00:10::${n.toString(16)}`;
  return {
    prefix: `${address}/${family === "ipv4" ? 32 : 128}`,
    address,
    family,
    attributeSet,
    services: [`default/svc-${n}`],
  };
}

export function desiredState(
  prefixes: readonly AdvertisedPrefix[],
  attributeSets: readonly AttributeSet[] = [],
): DesiredState {
  return { prefixes, attributeSets, decisions: [], problems: [] };
}
