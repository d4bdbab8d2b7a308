// A file written from kept statements holds what a render of the same state holds: the shipped
// templates' renders, before and after the statements change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfLayout } from "./conf-layout.js";
import { parseConf, sameConf, type ParsedConf } from "./config-delta.js";
import { compileTemplates, renderFrrConf } from "../render/renderer.js";
import { loadTemplateDir } from "../templates/load-template-dir.js";
import { toTemplateContext } from "../render/context.js";
import { attributes, desiredState, fakeConfig, prefixAt } from "../render/fake-config.test-helper.js";
import type { AdvertisedPrefix, AttributeSet } from "../model/desired-state-types.js";
import type { IpFamily } from "../model/snapshot.js";

const templates = compileTemplates(
  await loadTemplateDir(new URL("../../../frr-templates", import.meta.url).pathname),
);

const setA: AttributeSet = { name: "FRRADV-A-1", attributes: attributes({ communities: ["65000:1"] }) };
const setB: AttributeSet = { name: "FRRADV-B-2", attributes: attributes({ localPreference: 200 }) };

function render(
  prefixes: readonly AdvertisedPrefix[],
  sets: readonly AttributeSet[],
  families: readonly IpFamily[] = ["ipv4", "ipv6"],
): string {
  return renderFrrConf(templates, toTemplateContext(fakeConfig({ families }), desiredState(prefixes, sets)));
}

function parsed(text: string): ParsedConf {
  const p = parseConf(text);
  assert.ok(p, "the text parses");
  return p;
}

/** The layout of `from` filled with the statements and route-maps of `to`. */
function rewrite(from: string, to: string): string | undefined {
  const layout = ConfLayout.of(from);
  assert.ok(layout, "a layout");
  const target = parsed(to);
  return layout.write(target.networks.values(), target.routeMaps.values());
}

const before = [prefixAt("ipv4", 1), prefixAt("ipv4", 2, "FRRADV-A-1"), prefixAt("ipv6", 3)];

const cases: readonly {
  readonly name: string;
  readonly to: readonly AdvertisedPrefix[];
  readonly sets: readonly AttributeSet[];
}[] = [
  { name: "the same statements", to: before, sets: [setA] },
  { name: "a prefix withdrawn", to: before.slice(1), sets: [setA] },
  {
    name: "a prefix with a new attribute set",
    to: [...before, prefixAt("ipv4", 4, "FRRADV-B-2")],
    sets: [setA, setB],
  },
  {
    name: "the last prefix of a set gone, with its route-map",
    to: [prefixAt("ipv4", 1), prefixAt("ipv6", 3)],
    sets: [],
  },
  { name: "no prefix left", to: [], sets: [] },
  {
    name: "a prefix moved between sets, an IPv6 one added",
    to: [prefixAt("ipv4", 1), prefixAt("ipv4", 2, "FRRADV-B-2"), prefixAt("ipv6", 3), prefixAt("ipv6", 9)],
    sets: [setB],
  },
];

for (const c of cases) {
  test(`a file written from kept statements equals the render: ${c.name}`, () => {
    const expected = render(c.to, c.sets);
    const written = rewrite(render(before, [setA]), expected);
    assert.ok(written !== undefined);
    assert.ok(sameConf(parsed(written), parsed(expected)), written);
  });
}

test("route-maps go before the router when the file had none, and come back where they were", () => {
  const bare = render([prefixAt("ipv4", 1)], []);
  const written = rewrite(bare, render([prefixAt("ipv4", 1, "FRRADV-A-1")], [setA]));
  assert.ok(written !== undefined);
  const lines = written.split("\n");
  assert.ok(lines.indexOf("route-map FRRADV-A-1 permit 10") < lines.indexOf("router bgp 65001"));
  // Written again from its own layout: the same text (a settle pass with nothing new is a no-op).
  assert.equal(rewrite(written, written), written);
});

test("a statement for a block the file lacks cannot be written (the caller renders)", () => {
  const v4only = render([prefixAt("ipv4", 1)], [], ["ipv4"]);
  assert.equal(rewrite(v4only, render([prefixAt("ipv4", 1), prefixAt("ipv6", 2)], [])), undefined);
});

test("a network line outside router bgp / address-family has no layout", () => {
  assert.equal(ConfLayout.of("frr defaults datacenter\nnetwork 10.0.0.1/32\n"), undefined);
});

test("comments and blank lines stay where they were (sameConf does not look at them)", () => {
  const text = render(before, [setA]);
  const written = rewrite(text, text);
  assert.ok(written !== undefined);
  const comments = (t: string) => t.split("\n").filter((l) => l.trim() === "" || l.trim().startsWith("!"));
  assert.deepEqual(comments(written), comments(text));
});
