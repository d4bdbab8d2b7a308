// The read-back's view of what bgpd sends a peer, from the answers FRR 8.4 (host) and 10.3 (the
// image) give; the text form must add up to its own total, else the JSON form is asked.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  advertisedRoutesCommand,
  parseAdvertisedRoutes,
  parseAdvertisedRoutesText,
} from "./advertised-routes.js";

const HEAD = `BGP table version is 3, local router ID is 192.0.2.0, vrf id 0
Default local pref 100, local AS 65001
Status codes:  s suppressed, d damped, h history, * valid, > best, = multipath,
               i internal, r RIB-failure, S Stale, R Removed
Nexthop codes: @NNN nexthop's vrf id, < announce-nh-self
Origin codes:  i - IGP, e - EGP, ? - incomplete
RPKI validation codes: V valid, I invalid, N Not found
`;

const FRR84_V4 = `${HEAD}
   Network          Next Hop            Metric LocPrf Weight Path
*> 10.96.0.2/32     0.0.0.0                  0         32768 i
*> 203.0.113.45/32  0.0.0.0                  0         32768 i

Total number of prefixes 2
`;

const FRR84_V6 = `${HEAD}
   Network          Next Hop            Metric LocPrf Weight Path
*> fd00:96::1/128   ::                       0         32768 i
*> fd00:96::abcd:1234:5678/128
                    ::                       0         32768 i

Total number of prefixes 2
`;

// FRR 10.3: indented status, the peer's hostname after the next hop, and a wrap after it.
const FRR103_V4 = `${HEAD}
     Network          Next Hop            Metric LocPrf Weight Path
 *>  10.96.0.2/32     0.0.0.0(cf3926dd3dbc)
                                             0         32768 i
 *>  203.0.113.45/32  0.0.0.0(cf3926dd3dbc)
                                             0         32768 i

Total number of prefixes 2
`;

const FRR103_V6 = `${HEAD}
     Network          Next Hop            Metric LocPrf Weight Path
 *>  fd00:96::1/128   ::(cf3926dd3dbc)
                                             0         32768 i
 *>  fd00:96::abcd:1234:5678/128
                    ::(cf3926dd3dbc)
                                             0         32768 i

Total number of prefixes 2
`;

const cases: readonly [string, string, string[] | undefined][] = [
  ["FRR 8.4, IPv4", FRR84_V4, ["10.96.0.2/32", "203.0.113.45/32"]],
  ["FRR 8.4, IPv6 (a long prefix wraps)", FRR84_V6, ["fd00:96::1/128", "fd00:96::abcd:1234:5678/128"]],
  ["FRR 10.3, IPv4 (next hop with the peer's name)", FRR103_V4, ["10.96.0.2/32", "203.0.113.45/32"]],
  ["FRR 10.3, IPv6", FRR103_V6, ["fd00:96::1/128", "fd00:96::abcd:1234:5678/128"]],
  [
    "a table short of its total",
    FRR84_V4.replace("Total number of prefixes 2", "Total number of prefixes 3"),
    undefined,
  ],
  ["a line that does not read as a prefix", FRR84_V4.replace("10.96.0.2/32", "10.96.0.2"), undefined],
  ["no table (nothing sent, or an error)", "% No such neighbor or address family\n", undefined],
  ["empty", "", undefined],
];

for (const [name, text, expected] of cases) {
  test(`advertised-routes text: ${name}`, () => {
    const got = parseAdvertisedRoutesText(text);
    assert.deepEqual(got === undefined ? undefined : [...got].sort(), expected);
  });
}

test("advertised-routes JSON: keyed by prefix; anything else is no route", () => {
  assert.deepEqual(
    [...parseAdvertisedRoutes({ advertisedRoutes: { "10.96.0.2/32": {} } })],
    ["10.96.0.2/32"],
  );
  assert.deepEqual([...parseAdvertisedRoutes({})], []);
  assert.deepEqual([...parseAdvertisedRoutes(null)], []);
});

test("the command names a peer bgpd knows, never text from the cluster", () => {
  assert.equal(
    advertisedRoutesCommand("ipv6", "192.0.2.1", "text"),
    "show bgp ipv6 unicast neighbors 192.0.2.1 advertised-routes",
  );
  assert.equal(
    advertisedRoutesCommand("ipv4", "eth0", "json"),
    "show bgp ipv4 unicast neighbors eth0 advertised-routes json",
  );
  assert.throws(
    () => advertisedRoutesCommand("ipv4", "x\nconfigure terminal", "text"),
    /not a BGP peer name/,
  );
});
