// Which paths of a template directory the live watcher reacts to.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isUnderCases } from "./template-source.js";

void test("edits of the shipped test cases never re-apply the templates; the templates do", () => {
  const dir = "/etc/frr-advertiser/templates";
  for (const p of ["cases", "cases/network-empty/expected.conf", "cases/x"])
    assert.equal(isUnderCases(dir, `${dir}/${p}`), true, p);
  for (const p of ["frr.conf.hbs", "partials/neighbors.hbs", "..data", "casesX/a", "partials/cases.hbs"])
    assert.equal(isUnderCases(dir, `${dir}/${p}`), false, p);
});
