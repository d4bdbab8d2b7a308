// Content-derived names for distinct BGP attribute sets ("FRRADV-A-" + 64-bit FNV-1a hex), so a
// route-map entry keeps its name across restarts and nodes while its attributes stay the same.

import type { BgpAttributes } from "./desired-state-types.js";
import { fnv1a64Hex } from "./fnv.js";

export const ATTRIBUTE_SET_PREFIX = "FRRADV-A-";
const MAX_SALT = 1000;

/** Canonical, unambiguous text of an attribute set; "" for none. Equal attributes ⇔ equal keys. */
export function attributesKey(attributes: BgpAttributes | undefined): string {
  if (attributes === undefined) return "";
  return JSON.stringify([
    attributes.communities,
    attributes.largeCommunities,
    attributes.localPreference ?? null,
    attributes.med ?? null,
    attributes.asPathPrepend,
    // Only when set, so every unweighted set keeps the name it had before weighted ECMP existed.
    ...(attributes.linkBandwidth === undefined ? [] : [attributes.linkBandwidth]),
  ]);
}

/**
 * Names each distinct key. On a hash collision (never seen, but not impossible) the key that
 * sorts later is re-hashed with a salt, so the result still depends only on the set of keys.
 */
export function nameAttributeSets(
  keys: Iterable<string>,
  hash: (text: string) => string = fnv1a64Hex,
): Map<string, string> {
  const owners = new Map<string, string>();
  const names = new Map<string, string>();
  for (const key of [...new Set(keys)].sort(compareStrings)) {
    const name = freeName(key, owners, hash);
    owners.set(name, key);
    names.set(key, name);
  }
  return names;
}

function freeName(key: string, owners: ReadonlyMap<string, string>, hash: (text: string) => string): string {
  for (let salt = 0; salt < MAX_SALT; salt += 1) {
    const name = ATTRIBUTE_SET_PREFIX + hash(salt === 0 ? key : `${key}#${salt}`);
    if (!owners.has(name)) return name;
  }
  throw new Error(`attribute set names: no free name for ${key} after ${MAX_SALT} tries (broken hash?)`);
}

/** Code-unit order, independent of locale. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
