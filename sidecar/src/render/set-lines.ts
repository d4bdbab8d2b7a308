// Turns one attribute set into FRR `set` lines. Communities are `additive`: on a route we originate
// that equals replacing, but it keeps any community an operator's own earlier entry already set.

import type { BgpAttributes } from "../model/desired-state-types.js";
import { MAX_LINK_BANDWIDTH } from "../model/weighted-ecmp.js";
import { SHAPE, checked, checkedInt } from "./guard.js";

const UINT32_MAX = 4294967295;

/** In the order `show running-config` prints them, so the file reads like FRR's own output. */
export function formatSetLines(a: BgpAttributes): string[] {
  const lines: string[] = [];
  if (a.asPathPrepend.length > 0) {
    const asns = a.asPathPrepend.map((asn) => checkedInt(asn, 1, UINT32_MAX, "as-path prepend ASN"));
    lines.push(`set as-path prepend ${asns.join(" ")}`);
  }
  if (a.communities.length > 0) {
    const values = a.communities.map((c) => checked(c, SHAPE.community, "community"));
    lines.push(`set community ${values.join(" ")} additive`);
  }
  if (a.largeCommunities.length > 0) {
    const values = a.largeCommunities.map((c) => checked(c, SHAPE.largeCommunity, "large community"));
    lines.push(`set large-community ${values.join(" ")} additive`);
  }
  if (a.localPreference !== undefined) {
    lines.push(`set local-preference ${checkedInt(a.localPreference, 0, UINT32_MAX, "local-preference")}`);
  }
  if (a.med !== undefined) lines.push(`set metric ${checkedInt(a.med, 0, UINT32_MAX, "MED")}`);
  if (a.linkBandwidth !== undefined) {
    // Transitive (FRR's default), so it survives the eBGP hop to the ToR that weighs the paths.
    const bandwidth = checkedInt(a.linkBandwidth, 1, MAX_LINK_BANDWIDTH, "link bandwidth");
    lines.push(`set extcommunity bandwidth ${bandwidth}`);
  }
  return lines;
}
