import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseServiceAnnotations } from "./annotations.js";
import type { BgpAttributes } from "./desired-state-types.js";

const P = "frr-advertiser.io/";

function parse(annotations: Record<string, string>): ReturnType<typeof parseServiceAnnotations> {
  return parseServiceAnnotations({ namespace: "default", name: "web", annotations });
}

function attrs(partial: Partial<BgpAttributes>): BgpAttributes {
  return {
    communities: [],
    largeCommunities: [],
    localPreference: undefined,
    med: undefined,
    asPathPrepend: [],
    ...partial,
  };
}

void describe("valid annotations parse into canonical attributes", () => {
  const cases: [
    name: string,
    annotations: Record<string, string>,
    optOut: boolean,
    expected: BgpAttributes | undefined,
  ][] = [
    ["none at all", {}, false, undefined],
    [
      "other prefixes are ignored",
      { "example.com/communities": "junk", "frr-advertiser.io.evil/x": "y" },
      false,
      undefined,
    ],
    ["advertise=true alone carries no attributes", { [`${P}advertise`]: "true" }, false, undefined],
    ["advertise=false opts out", { [`${P}advertise`]: "false" }, true, undefined],
    ["one community", { [`${P}communities`]: "65000:100" }, false, attrs({ communities: ["65000:100"] })],
    [
      "community bounds",
      { [`${P}communities`]: "0:0,65535:65535" },
      false,
      attrs({ communities: ["0:0", "65535:65535"] }),
    ],
    [
      "communities sorted numerically, deduped, comma and/or space separated",
      { [`${P}communities`]: "65000:20, 65000:3 65000:20,100:1" },
      false,
      attrs({ communities: ["100:1", "65000:3", "65000:20"] }),
    ],
    [
      "well-known names in FRR's spelling, numeric forms mapped to names",
      {
        [`${P}communities`]:
          "no-export local-as LOCAL-AS 65535:65281 blackhole graceful-shutdown accept-own no-peer no-advertise",
      },
      false,
      attrs({
        communities: [
          "graceful-shutdown",
          "accept-own",
          "blackhole",
          "no-export",
          "no-advertise",
          "local-AS",
          "no-peer",
        ],
      }),
    ],
    [
      "large communities sorted numerically and deduped",
      { [`${P}large-communities`]: "65000:10:1 65000:9:1,0:0:4294967295 65000:9:1" },
      false,
      attrs({ largeCommunities: ["0:0:4294967295", "65000:9:1", "65000:10:1"] }),
    ],
    ["local-preference", { [`${P}local-preference`]: "200" }, false, attrs({ localPreference: 200 })],
    [
      "local-preference max",
      { [`${P}local-preference`]: "4294967295" },
      false,
      attrs({ localPreference: 4294967295 }),
    ],
    ["med zero", { [`${P}med`]: "0" }, false, attrs({ med: 0 })],
    [
      "as-path-prepend keeps order and repeats",
      { [`${P}as-path-prepend`]: "65001 65000 65000" },
      false,
      attrs({ asPathPrepend: [65001, 65000, 65000] }),
    ],
    [
      "as-path-prepend: ten is the limit",
      { [`${P}as-path-prepend`]: "1 ".repeat(9) + "4294967295" },
      false,
      attrs({ asPathPrepend: [...Array<number>(9).fill(1), 4294967295] }),
    ],
    [
      "all keys together",
      {
        [`${P}advertise`]: "true",
        [`${P}communities`]: "65000:1",
        [`${P}large-communities`]: "1:2:3",
        [`${P}local-preference`]: "150",
        [`${P}med`]: "10",
        [`${P}as-path-prepend`]: "65000",
      },
      false,
      {
        communities: ["65000:1"],
        largeCommunities: ["1:2:3"],
        localPreference: 150,
        med: 10,
        asPathPrepend: [65000],
      },
    ],
  ];
  for (const [name, annotations, optOut, expected] of cases) {
    void test(name, () => {
      const parsed = parse(annotations);
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.map((e) => e.message).join("\n"));
      assert.equal(parsed.optOut, optOut);
      assert.deepEqual(parsed.attributes, expected);
    });
  }
});

void test("the house-style message, exactly", () => {
  const parsed = parse({ [`${P}communities`]: "65000:x" });
  assert.equal(parsed.ok, false);
  assert.deepEqual(
    parsed.errors.map((e) => e.message),
    [
      'Service default/web: annotation frr-advertiser.io/communities="65000:x" is not a community (want ASN:VALUE)',
    ],
  );
});

void describe("malformed values and injection attempts are rejected", () => {
  const cases: [key: string, value: string, why: RegExp][] = [
    ["communities", "65000:1\n router bgp 1", /control or non-ASCII/],
    ["communities", "65000:1\r\nexit", /control or non-ASCII/],
    ["communities", "65000:1\t65000:2", /control or non-ASCII/],
    ["communities", "65000:1 ", /leading or trailing whitespace/],
    ["communities", " 65000:1", /leading or trailing whitespace/],
    ["communities", "", /is empty/],
    ["communities", "65000:1 !", /item "!"/],
    ["communities", "65000:1;65000:2", /is not a community/],
    ["communities", "65000:1 additive", /item "additive"/],
    ["communities", "none", /is not a community/],
    ["communities", "internet", /is not a community/],
    ["communities", "65000:1,,65000:2", /empty list item/],
    ["communities", "65000:1,", /empty list item/],
    ["communities", "６５０００:1", /control or non-ASCII/],
    ["communities", "65536:1", /is not a community/],
    ["communities", "1:65536", /is not a community/],
    ["communities", "+65000:1", /is not a community/],
    ["communities", "0x10:1", /is not a community/],
    ["communities", "065000:1", /is not a community/],
    ["communities", "65000:1:2", /is not a community/],
    ["communities", "65000", /is not a community/],
    ["communities", "65000 :1", /item "65000"/],
    ["large-communities", "1:2", /is not a large community/],
    ["large-communities", "1:2:4294967296", /is not a large community/],
    ["large-communities", "1:2:3\nroute-map x permit 10", /control or non-ASCII/],
    ["local-preference", "100 ", /leading or trailing whitespace/],
    ["local-preference", "1 00", /is not a local-preference/],
    ["local-preference", "+100", /is not a local-preference/],
    ["local-preference", "-1", /is not a local-preference/],
    ["local-preference", "0x64", /is not a local-preference/],
    ["local-preference", "1e3", /is not a local-preference/],
    ["local-preference", "100.0", /is not a local-preference/],
    ["local-preference", "4294967296", /is not a local-preference/],
    ["local-preference", "99999999999999999999", /is not a local-preference/],
    ["local-preference", "٣", /control or non-ASCII/],
    ["med", "", /is empty/],
    ["med", "010", /is not a MED/],
    ["as-path-prepend", "0", /is not a list of ASNs/],
    ["as-path-prepend", "65000 4294967296", /item "4294967296"/],
    ["as-path-prepend", "1 ".repeat(10) + "1", /has 11 ASNs \(want at most 10\)/],
    ["as-path-prepend", "65000 65000\n!\nrouter bgp 666", /control or non-ASCII/],
    ["advertise", "False", /is not a boolean/],
    ["advertise", "no", /is not a boolean/],
    ["advertise", "", /is empty/],
    ["comunities", "65000:1", /is not a known key \(want one of advertise, as-path-prepend, communities/],
    ["drain", "true", /is not a known key/],
    ["", "x", /is not a known key/],
    ["constructor", "x", /is not a known key/],
    ["__proto__", "x", /is not a known key/],
  ];
  for (const [key, value, why] of cases) {
    void test(`${key}=${JSON.stringify(value)}`, () => {
      const parsed = parse({ [`${P}${key}`]: value, [`${P}med`]: key === "med" ? value : "5" });
      assert.equal(parsed.ok, false, "must be rejected");
      const messages = parsed.errors.map((e) => e.message);
      assert.equal(messages.length, 1, messages.join("\n"));
      const [message = ""] = messages;
      assert.match(message, why);
      assert.ok(message.startsWith(`Service default/web: annotation ${P}${key}=`), message);
      assert.doesNotMatch(message, /\n/, "a message stays on one line");
    });
  }
});

void test("every bad key is reported, and a valid opt-out still counts", () => {
  const parsed = parse({ [`${P}advertise`]: "false", [`${P}med`]: "x", [`${P}colour`]: "red" });
  assert.equal(parsed.ok, false);
  assert.equal(parsed.optOut, true);
  assert.deepEqual(
    parsed.errors.map((e) => e.key),
    [`${P}colour`, `${P}med`],
  );
});

void test("long values are shortened in messages", () => {
  const parsed = parse({ [`${P}communities`]: "1:1 ".repeat(100) + "x" });
  assert.equal(parsed.ok, false);
  const message = parsed.errors[0]?.message ?? "";
  assert.ok(message.length < 250, message);
  assert.match(message, /…"/);
});
