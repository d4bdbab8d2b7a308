// The template context: scale rule (policy objects per attribute SET, never per service),
// static outbound filters, prefix-list correctness, neighbour data, injection guard.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { AdvertisedPrefix, AttributeSet } from "../model/desired-state-types.js";
import type { IpFamily } from "../model/snapshot.js";
import { EMPTY_DESIRED_STATE, toTemplateContext } from "./context.js";
import { ContextInvariantError } from "./guard.js";
import { compileTemplates, renderFrrConf, type CompiledTemplates } from "./renderer.js";
import { attributes, desiredState, fakeConfig, neighbor, prefixAt } from "./fake-config.test-helper.js";

const TEMPLATE_DIR = join(import.meta.dirname, "../../../frr-templates");

function defaultTemplates(): CompiledTemplates {
  const partials: Record<string, string> = {};
  for (const file of readdirSync(join(TEMPLATE_DIR, "partials"))) {
    if (file.endsWith(".hbs"))
      partials[file.slice(0, -4)] = readFileSync(join(TEMPLATE_DIR, "partials", file), "utf8");
  }
  return compileTemplates({ main: readFileSync(join(TEMPLATE_DIR, "frr.conf.hbs"), "utf8"), partials });
}

const SETS: AttributeSet[] = [
  { name: "FRRADV-A-0000000000000001", attributes: attributes({ communities: ["65000:1"] }) },
  { name: "FRRADV-A-0000000000000002", attributes: attributes({ localPreference: 200, med: 10 }) },
  {
    name: "FRRADV-A-0000000000000003",
    attributes: attributes({ largeCommunities: ["65000:1:2"], asPathPrepend: [65001] }),
  },
];

/** `count` prefixes alternating families; every fourth has no attributes, the rest cycle over SETS. */
function manyPrefixes(count: number): AdvertisedPrefix[] {
  const out: AdvertisedPrefix[] = [];
  for (let i = 0; i < count; i += 1) {
    const family: IpFamily = i % 2 === 0 ? "ipv4" : "ipv6";
    out.push(prefixAt(family, i, i % 4 === 3 ? undefined : SETS[i % 3]?.name));
  }
  // The model's order: IPv4 before IPv6, numerically.
  return [...out.filter((p) => p.family === "ipv4"), ...out.filter((p) => p.family === "ipv6")];
}

function namesOf(conf: string, pattern: RegExp): Set<string> {
  return new Set([...conf.matchAll(pattern)].map((m) => m[1] ?? ""));
}

void describe("toTemplateContext: scale", () => {
  const templates = defaultTemplates();
  const state = desiredState(manyPrefixes(10_000), SETS);

  void it("network mode: 10,000 prefixes over 3 attribute sets give 3 attribute route-maps and static prefix-lists", () => {
    const ctx = toTemplateContext(fakeConfig({ mode: "network" }), state);
    assert.equal(ctx.attributeSets.length, 3);
    assert.equal(ctx.counts.prefixes, 10_000);
    const conf = renderFrrConf(templates, ctx);
    assert.deepEqual(namesOf(conf, /^route-map (FRRADV-A-\S+) /gm), new Set(SETS.map((s) => s.name)));
    assert.deepEqual(
      namesOf(conf, /^(?:ip|ipv6) prefix-list (\S+) /gm),
      new Set(["FRRADV-ALLOWED-V4", "FRRADV-ALLOWED-V6"]),
    );
    assert.equal(conf.match(/^ {2}network /gm)?.length, 10_000);
    assert.equal(conf.match(/^route-map /gm)?.length, 3 + 3, "3 attribute sets + import + 2 export");
  });

  void it("connected mode: 3 attribute entries and 3 prefix-lists per family, no network statements", () => {
    const ctx = toTemplateContext(fakeConfig({ mode: "connected" }), state);
    assert.deepEqual(ctx.attributeSets, []);
    for (const family of ctx.families) {
      assert.equal(family.attributePrefixLists.length, 3);
      assert.equal(family.connectedRouteMap.entries.length, 4, "3 attribute sets + the plain entry");
    }
    const conf = renderFrrConf(templates, ctx);
    assert.equal(namesOf(conf, /^(?:ip|ipv6) prefix-list (\S+) /gm).size, 2 + 2 * 3);
    assert.deepEqual(
      namesOf(conf, /^route-map (\S+) /gm),
      new Set([
        "FRRADV-IMPORT",
        "FRRADV-EXPORT-V4",
        "FRRADV-EXPORT-V6",
        "FRRADV-CONNECTED-V4",
        "FRRADV-CONNECTED-V6",
      ]),
    );
    assert.equal(conf.match(/^route-map FRRADV-CONNECTED-V4 /gm)?.length, 4);
    assert.doesNotMatch(conf, /^ {2}network /m);
  });
});

void describe("toTemplateContext: static filters", () => {
  void it("the allowed-CIDR prefix-lists do not change when prefixes come and go", () => {
    for (const mode of ["network", "connected"] as const) {
      const config = fakeConfig({ mode });
      const empty = toTemplateContext(config, EMPTY_DESIRED_STATE);
      const full = toTemplateContext(config, desiredState(manyPrefixes(500), SETS));
      assert.deepEqual(full.ipv4.allowedPrefixList, empty.ipv4.allowedPrefixList);
      assert.deepEqual(full.ipv6.allowedPrefixList, empty.ipv6.allowedPrefixList);
      assert.equal(full.ipv4.exportRouteMap, empty.ipv4.exportRouteMap);
    }
  });

  void it("connected mode: services without attributes come and go without any change to the render", () => {
    const templates = defaultTemplates();
    const config = fakeConfig({ mode: "connected" });
    const base = [prefixAt("ipv4", 1, SETS[0]?.name)];
    const before = renderFrrConf(templates, toTemplateContext(config, desiredState(base, SETS.slice(0, 1))));
    const more = [...base, prefixAt("ipv4", 2), prefixAt("ipv4", 3), prefixAt("ipv6", 4)];
    const after = renderFrrConf(templates, toTemplateContext(config, desiredState(more, SETS.slice(0, 1))));
    assert.equal(after, before);
  });

  void it("connected mode: one more prefix in an attribute set changes exactly one prefix-list line", () => {
    const templates = defaultTemplates();
    const config = fakeConfig({ mode: "connected" });
    const set = SETS[0]?.name;
    const some = [5, 9, 300, 7000].map((n) => prefixAt("ipv4", n, set));
    const withOne = [...some.slice(0, 1), prefixAt("ipv4", 6, set), ...some.slice(1)];
    const lines = (ps: AdvertisedPrefix[]): Set<string> =>
      new Set(
        renderFrrConf(templates, toTemplateContext(config, desiredState(ps, SETS.slice(0, 1)))).split("\n"),
      );
    const before = lines(some);
    const added = [...lines(withOne)].filter((l) => !before.has(l));
    assert.deepEqual(added, [
      "ip prefix-list FRRADV-A-0000000000000001-V4 seq 174063622 permit 10.96.0.6/32",
    ]);
  });

  void it("permits only host routes: ge 32/128 below host length, an exact entry for a /32 or /128", () => {
    const ctx = toTemplateContext(
      fakeConfig({
        allowedCidrs: ["10.96.0.0/12", "192.0.2.7/32", "0.0.0.0/0", "fd00:10::/64", "fd00::7/128"],
      }),
      EMPTY_DESIRED_STATE,
    );
    assert.deepEqual(ctx.ipv4.allowedPrefixList.entries, [
      { seq: 10, line: "permit 0.0.0.0/0 ge 32" },
      { seq: 20, line: "permit 10.96.0.0/12 ge 32" },
      { seq: 30, line: "permit 192.0.2.7/32" },
    ]);
    assert.deepEqual(ctx.ipv6.allowedPrefixList.entries, [
      { seq: 10, line: "permit fd00::7/128" },
      { seq: 20, line: "permit fd00:10::/64 ge 128" },
    ]);
  });

  void it("denies excluded IPs before the permits, and denies everything in a family with no allowed CIDR", () => {
    const ctx = toTemplateContext(
      fakeConfig({ allowedCidrs: ["10.96.0.0/12"], excludedIps: ["10.96.0.1", "10.97.0.0/16", "fd00::1"] }),
      EMPTY_DESIRED_STATE,
    );
    assert.deepEqual(ctx.ipv4.allowedPrefixList.entries, [
      { seq: 10, line: "deny 10.96.0.1/32" },
      { seq: 20, line: "deny 10.97.0.0/16 le 32" },
      { seq: 30, line: "permit 10.96.0.0/12 ge 32" },
    ]);
    assert.deepEqual(ctx.ipv6.allowedPrefixList.entries, [{ seq: 10, line: "deny any" }]);
  });
});

void describe("toTemplateContext: data", () => {
  void it("network mode names the attribute route-map per prefix; connected mode does not", () => {
    const state = desiredState([prefixAt("ipv4", 1), prefixAt("ipv4", 2, SETS[1]?.name)], SETS.slice(1, 2));
    const net = toTemplateContext(fakeConfig({ mode: "network" }), state);
    assert.deepEqual(net.ipv4.prefixes, [
      { prefix: "10.96.0.1/32", routeMap: "", attributeSet: "" },
      {
        prefix: "10.96.0.2/32",
        routeMap: "FRRADV-A-0000000000000002",
        attributeSet: "FRRADV-A-0000000000000002",
      },
    ]);
    assert.deepEqual(net.attributeSets, [
      { name: "FRRADV-A-0000000000000002", sets: ["set local-preference 200", "set metric 10"] },
    ]);
    const con = toTemplateContext(fakeConfig({ mode: "connected" }), state);
    assert.equal(con.ipv4.prefixes[1]?.routeMap, "");
    assert.equal(con.ipv4.prefixes[1].attributeSet, "FRRADV-A-0000000000000002");
  });

  void it("formats every attribute, communities additive, in FRR's display order", () => {
    const set: AttributeSet = {
      name: "FRRADV-A-00000000000000ff",
      attributes: attributes({
        communities: ["65000:1", "no-export"],
        largeCommunities: ["65000:1:2", "65000:3:4"],
        localPreference: 0,
        med: 4294967295,
        asPathPrepend: [65001, 65001],
      }),
    };
    const ctx = toTemplateContext(fakeConfig(), desiredState([prefixAt("ipv4", 1, set.name)], [set]));
    assert.deepEqual(ctx.attributeSets[0]?.sets, [
      "set as-path prepend 65001 65001",
      "set community 65000:1 no-export additive",
      "set large-community 65000:1:2 65000:3:4 additive",
      "set local-preference 0",
      "set metric 4294967295",
    ]);
  });

  void it("drops attribute sets and counts of a disabled family", () => {
    const state = desiredState([prefixAt("ipv4", 1), prefixAt("ipv6", 2, SETS[0]?.name)], SETS.slice(0, 1));
    const ctx = toTemplateContext(fakeConfig({ families: ["ipv4"] }), state);
    assert.deepEqual(
      ctx.families.map((f) => f.afi),
      ["ipv4"],
    );
    assert.equal(ctx.ipv6.enabled, false);
    assert.deepEqual(ctx.attributeSets, []);
    assert.deepEqual(ctx.counts, {
      prefixes: 1,
      ipv4Prefixes: 1,
      ipv6Prefixes: 0,
      attributeSets: 0,
      neighbors: 1,
    });
  });

  void it("sorts neighbours, canonicalises addresses and activates the intersection of families", () => {
    const ctx = toTemplateContext(
      fakeConfig({
        families: ["ipv4", "ipv6"],
        neighbors: [
          neighbor({ address: "FD00:0:0::1", remoteAs: "internal", families: ["ipv6"] }),
          neighbor({
            address: "192.0.2.9",
            remoteAs: 65000,
            timers: { keepalive: 3, hold: 9 },
            ebgpMultihop: 2,
          }),
          neighbor({ interface: "eth1", remoteAs: "external", bfd: true, password: "a&b<c>" }),
          neighbor({ address: "192.0.2.10", remoteAs: 65000, description: "tor 2", families: ["ipv4"] }),
        ],
      }),
      EMPTY_DESIRED_STATE,
    );
    assert.deepEqual(
      ctx.neighbors.map((n) => n.id),
      ["eth1", "192.0.2.9", "192.0.2.10", "fd00::1"],
    );
    const [eth1, n9, n10, v6] = ctx.neighbors;
    assert.deepEqual(eth1, {
      id: "eth1",
      isUnnumbered: true,
      address: "",
      interface: "eth1",
      remoteAs: "external",
      description: "",
      bfd: true,
      gracefulRestart: false,
      password: "a&b<c>",
      ebgpMultihop: "",
      timers: "",
      ipv4: true,
      ipv6: true,
    });
    assert.equal(n9?.timers, "3 9");
    assert.equal(n9.ebgpMultihop, "2");
    assert.equal(n9.remoteAs, "65000");
    assert.equal(n10?.description, "tor 2");
    assert.deepEqual([v6?.ipv4, v6?.ipv6], [false, true]);
    assert.deepEqual(
      ctx.ipv4.neighbors.map((n) => n.id),
      ["eth1", "192.0.2.9", "192.0.2.10"],
    );
    assert.deepEqual(
      ctx.ipv6.neighbors.map((n) => n.id),
      ["eth1", "192.0.2.9", "fd00::1"],
    );
  });

  void it("renders only the neighbours the model chose for this node (state.neighbors)", () => {
    const config = fakeConfig({
      neighbors: [
        neighbor({ address: "192.0.2.1", remoteAs: "external" }),
        neighbor({ address: "192.0.2.11", remoteAs: "external" }),
        neighbor({ interface: "eth1", remoteAs: "external" }),
      ],
    });
    const chosen = toTemplateContext(config, { ...EMPTY_DESIRED_STATE, neighbors: ["192.0.2.11", "eth1"] });
    assert.deepEqual(
      chosen.neighbors.map((n) => n.id),
      ["eth1", "192.0.2.11"],
    );
    const all = toTemplateContext(config, EMPTY_DESIRED_STATE);
    assert.equal(all.neighbors.length, 3, "a state made without a node keeps every neighbour");
  });

  void it("prints FRR's default log level (debugging) without a word, as FRR does", () => {
    assert.equal(toTemplateContext(fakeConfig({ logLevel: "debugging" }), EMPTY_DESIRED_STATE).logLevel, "");
    assert.equal(
      toTemplateContext(fakeConfig({ logLevel: "warnings" }), EMPTY_DESIRED_STATE).logLevel,
      "warnings",
    );
  });
});

void describe("toTemplateContext: no text injection", () => {
  const inject =
    (a: AttributeSet): (() => unknown) =>
    () =>
      toTemplateContext(fakeConfig(), desiredState([prefixAt("ipv4", 1, a.name)], [a]));

  void it("refuses a community that is not a single community token", () => {
    const bad = { name: "FRRADV-A-1", attributes: attributes({ communities: ["65000:1\nrouter bgp 666"] }) };
    assert.throws(inject(bad), ContextInvariantError);
  });

  void it("refuses an attribute set name that is not a plain FRR name", () => {
    const bad = { name: "X permit 10\n set metric 1", attributes: attributes({}) };
    assert.throws(inject(bad), ContextInvariantError);
  });

  void it("refuses a prefix that is not a host prefix", () => {
    const bad = { ...prefixAt("ipv4", 1), prefix: "10.96.0.0/12" };
    assert.throws(() => toTemplateContext(fakeConfig(), desiredState([bad])), ContextInvariantError);
  });

  void it("refuses a prefix naming an attribute set the state does not define", () => {
    assert.throws(
      () => toTemplateContext(fakeConfig(), desiredState([prefixAt("ipv4", 1, "FRRADV-A-9")])),
      /unknown attribute set/,
    );
  });
});
