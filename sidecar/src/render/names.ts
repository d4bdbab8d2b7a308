// Names of the FRR policy objects the default templates define. Fixed strings, so the objects
// themselves never change when services come and go (FRR delays every change by route-map delay-timer).

import type { IpFamily } from "../model/snapshot.js";

export const IMPORT_ROUTE_MAP = "FRRADV-IMPORT";

const SUFFIX: Readonly<Record<IpFamily, string>> = { ipv4: "V4", ipv6: "V6" };

export function exportRouteMapName(family: IpFamily): string {
  return `FRRADV-EXPORT-${SUFFIX[family]}`;
}

export function allowedPrefixListName(family: IpFamily): string {
  return `FRRADV-ALLOWED-${SUFFIX[family]}`;
}

export function connectedRouteMapName(family: IpFamily): string {
  return `FRRADV-CONNECTED-${SUFFIX[family]}`;
}

/** Connected mode: the prefix-list holding one attribute set's prefixes of one family. */
export function attributePrefixListName(attributeSet: string, family: IpFamily): string {
  return `${attributeSet}-${SUFFIX[family]}`;
}
