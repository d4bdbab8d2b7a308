// The renderer: strict and isolated Handlebars, errors that name the template and position,
// verbatim (unescaped) output, normalisation, trial render, determinism.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import { EMPTY_DESIRED_STATE, toTemplateContext } from "./context.js";
import type { TemplateContext } from "./context-types.js";
import {
  RenderError,
  compileTemplates,
  renderFrrConf,
  trialRender,
  type TemplateSources,
} from "./renderer.js";
import { desiredState, fakeConfig, neighbor, prefixAt } from "./fake-config.test-helper.js";

const TEMPLATE_DIR = join(import.meta.dirname, "../../../frr-templates");

function defaultSources(): TemplateSources {
  const partials: Record<string, string> = {};
  for (const file of readdirSync(join(TEMPLATE_DIR, "partials"))) {
    if (file.endsWith(".hbs"))
      partials[file.slice(0, -4)] = readFileSync(join(TEMPLATE_DIR, "partials", file), "utf8");
  }
  return { main: readFileSync(join(TEMPLATE_DIR, "frr.conf.hbs"), "utf8"), partials };
}

const emptyContext = (): TemplateContext => toTemplateContext(fakeConfig(), EMPTY_DESIRED_STATE);

function renderError(fn: () => unknown): RenderError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RenderError) return err;
    throw err;
  }
  assert.fail("expected a RenderError");
}

void describe("compileTemplates / renderFrrConf: strictness", () => {
  void it("a missing field fails with the partial's file name and the position", () => {
    const compiled = compileTemplates({
      main: "a\n{{> neighbors}}\n",
      partials: { neighbors: "x\n  {{hostnmae}}\n" },
    });
    const err = renderError(() => renderFrrConf(compiled, emptyContext()));
    assert.equal(err.template, "partials/neighbors.hbs");
    assert.equal(err.message, 'template partials/neighbors.hbs: "hostnmae" not defined (line 2, column 5)');
  });

  void it("a missing field inside #each fails too", () => {
    const compiled = compileTemplates({ main: "{{#each neighbors}}{{passwd}}{{/each}}", partials: {} });
    const err = renderError(() => renderFrrConf(compiled, emptyContext()));
    assert.match(err.message, /^template frr\.conf\.hbs: "passwd" not defined \(line 1, column \d+\)$/);
  });

  void it("a misspelled #if / #each argument fails instead of silently dropping lines", () => {
    const ifTypo = compileTemplates({
      main: "x\n{{#if gracefullRestart}}bgp graceful-restart{{/if}}",
      partials: {},
    });
    assert.match(
      renderError(() => renderFrrConf(ifTypo, emptyContext())).message,
      /"#if" argument not defined \(line 2, column 1\)/,
    );
    const eachTypo = compileTemplates({ main: "{{#each neighbours}}x{{/each}}", partials: {} });
    assert.match(
      renderError(() => renderFrrConf(eachTypo, emptyContext())).message,
      /"#each" argument not defined/,
    );
  });

  void it("a syntax error fails at compile time and names the file", () => {
    const err = renderError(() => compileTemplates({ main: "{{> p}}", partials: { p: "ok\n{{#if x}}\n" } }));
    assert.equal(err.template, "partials/p.hbs");
    assert.match(err.detail, /^Parse error on line \d+:/);
  });

  void it("only Handlebars' built-in helpers exist, checked at compile time", () => {
    const err = renderError(() => compileTemplates({ main: "x\n{{upper hostname}}", partials: {} }));
    assert.match(err.message, /^template frr\.conf\.hbs: .*unknown helper upper \(line 2, column 1\)$/);
  });

  void it("is isolated: helpers and partials registered on the global Handlebars do not leak in", () => {
    Handlebars.registerPartial("leak", "LEAKED");
    Handlebars.registerHelper("leakHelper", () => "LEAKED");
    try {
      const compiled = compileTemplates({ main: "{{> leak}}", partials: {} });
      assert.throws(() => renderFrrConf(compiled, emptyContext()), /The partial leak could not be found/);
      const helper = compileTemplates({ main: "{{leakHelper}}", partials: {} });
      assert.throws(() => renderFrrConf(helper, emptyContext()), /"leakHelper" not defined/);
    } finally {
      Handlebars.unregisterPartial("leak");
      Handlebars.unregisterHelper("leakHelper");
    }
  });

  void it("a missing partial names the template that asked for it", () => {
    const compiled = compileTemplates({ main: "{{> nope}}", partials: {} });
    assert.match(
      renderError(() => renderFrrConf(compiled, emptyContext())).message,
      /^template frr\.conf\.hbs: The partial nope could not be found/,
    );
  });

  void it("refuses a partial name Handlebars could not call", () => {
    assert.throws(() => compileTemplates({ main: "", partials: { "a b": "" } }), RenderError);
  });
});

void describe("compileTemplates / renderFrrConf: output", () => {
  void it("does not HTML-escape: a password with & < > \" ' renders verbatim", () => {
    const password = `p&ss<w>rd"'`;
    const config = fakeConfig({ neighbors: [neighbor({ address: "192.0.2.1", remoteAs: 65000, password })] });
    const conf = renderFrrConf(
      compileTemplates(defaultSources()),
      toTemplateContext(config, EMPTY_DESIRED_STATE),
    );
    assert.ok(conf.includes(`\n neighbor 192.0.2.1 password ${password}\n`), conf);
  });

  void it("normalises: no trailing spaces, at most one blank line in a row, exactly one final newline", () => {
    const compiled = compileTemplates({ main: "\n\na  \n\n\n\nb\t\n\n\n", partials: {} });
    assert.equal(renderFrrConf(compiled, emptyContext()), "a\n\nb\n");
  });

  void it("trial-renders the empty state with the default templates", () => {
    const conf = trialRender(compileTemplates(defaultSources()), fakeConfig());
    assert.match(conf, /^router bgp 65001$/m);
    assert.match(conf, /^ address-family ipv6 unicast$/m);
    assert.doesNotMatch(conf, /^ {2}network /m);
    assert.doesNotMatch(conf, /\{\{|\}\}/);
  });

  void it("is deterministic: same input, same bytes, across separate compilations", () => {
    const config = fakeConfig();
    const state = desiredState([prefixAt("ipv4", 1), prefixAt("ipv4", 2), prefixAt("ipv6", 3)]);
    const a = renderFrrConf(compileTemplates(defaultSources()), toTemplateContext(config, state));
    const b = renderFrrConf(compileTemplates(defaultSources()), toTemplateContext(config, state));
    assert.equal(a, b);
  });

  void it("every line of the default render is a command or a comment (no stray template text)", () => {
    const config = fakeConfig({ mode: "connected" });
    const conf = renderFrrConf(
      compileTemplates(defaultSources()),
      toTemplateContext(config, desiredState([prefixAt("ipv4", 1)])),
    );
    for (const line of conf.split("\n").filter((l) => l !== "")) assert.match(line, /^( {0,2}[a-z!])/, line);
  });
});
