// Kubernetes label selectors in their string form (`a=b,c!=d,e in (x,y),!f,g`): parse and match.
// Same grammar and semantics as k8s.io/apimachinery/pkg/labels; gt/lt operators are not supported.

import type { LabelRequirement } from "./policy.js";

export type SelectorResult =
  | { readonly ok: true; readonly requirements: LabelRequirement[] }
  | { readonly ok: false; readonly error: string };

type Token =
  | { readonly kind: "word"; readonly text: string }
  | { readonly kind: "op"; readonly text: "!" | "=" | "==" | "!=" | "(" | ")" | "," }
  | { readonly kind: "end" };

type Step<T> =
  | { readonly ok: true; readonly value: T; readonly next: number }
  | { readonly ok: false; readonly error: string };

const WHITESPACE = /[ \t\r\n]/;
const SPECIAL = /[!=(),<>]/;
const NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

/** Parses a selector string; "" (or only whitespace) selects everything. */
export function parseLabelSelector(text: string): SelectorResult {
  const tokens = tokenize(text);
  if (!Array.isArray(tokens)) return tokens;
  const requirements: LabelRequirement[] = [];
  let at = 0;
  while (tokens[at]?.kind !== "end") {
    const step = parseRequirement(tokens, at);
    if (!step.ok) return { ok: false, error: `label selector "${text}": ${step.error}` };
    requirements.push(step.value);
    at = step.next;
    if (tokens[at]?.kind === "end") break;
    const separatorError = checkSeparator(tokens, at);
    if (separatorError !== undefined)
      return { ok: false, error: `label selector "${text}": ${separatorError}` };
    at += 1;
  }
  return { ok: true, requirements };
}

function checkSeparator(tokens: readonly Token[], at: number): string | undefined {
  if (!isOp(tokens[at], ",")) return `want "," between requirements`;
  if (tokens[at + 1]?.kind === "end") return `want a requirement after ","`;
  return undefined;
}

function tokenize(text: string): Token[] | { ok: false; error: string } {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text.charAt(i);
    if (WHITESPACE.test(char)) i += 1;
    else if (char === "<" || char === ">")
      return { ok: false, error: `label selector "${text}": "${char}" is not supported` };
    else if (SPECIAL.test(char)) {
      const two = text.slice(i, i + 2);
      const op = two === "==" || two === "!=" ? two : (char as "!" | "=" | "(" | ")" | ",");
      tokens.push({ kind: "op", text: op });
      i += op.length;
    } else {
      let end = i;
      while (end < text.length && !WHITESPACE.test(text.charAt(end)) && !SPECIAL.test(text.charAt(end)))
        end += 1;
      tokens.push({ kind: "word", text: text.slice(i, end) });
      i = end;
    }
  }
  tokens.push({ kind: "end" });
  return tokens;
}

function parseRequirement(tokens: readonly Token[], at: number): Step<LabelRequirement> {
  const first = tokens[at];
  if (isOp(first, "!")) {
    const key = parseKey(tokens, at + 1);
    if (!key.ok) return key;
    return { ok: true, value: { key: key.value, op: "doesnotexist" }, next: key.next };
  }
  const key = parseKey(tokens, at);
  if (!key.ok) return key;
  return parseOperation(key.value, tokens, key.next);
}

function parseKey(tokens: readonly Token[], at: number): Step<string> {
  const token = tokens[at];
  if (token?.kind !== "word" || token.text === "in" || token.text === "notin")
    return { ok: false, error: "want a label key" };
  const error = checkKey(token.text);
  return error === undefined ? { ok: true, value: token.text, next: at + 1 } : { ok: false, error };
}

function parseOperation(key: string, tokens: readonly Token[], at: number): Step<LabelRequirement> {
  const token = tokens[at];
  if (endsRequirement(token)) return { ok: true, value: { key, op: "exists" }, next: at };
  const setOp = isWord(token, "in") ? "in" : isWord(token, "notin") ? "notin" : undefined;
  if (setOp !== undefined) {
    const values = parseValueList(tokens, at + 1);
    if (!values.ok) return values;
    return { ok: true, value: { key, op: setOp, values: values.value }, next: values.next };
  }
  if (isOp(token, "=") || isOp(token, "==") || isOp(token, "!=")) {
    const value = parseValue(tokens, at + 1);
    if (!value.ok) return value;
    const op = isOp(token, "!=") ? "notin" : "in";
    return { ok: true, value: { key, op, values: [value.value] }, next: value.next };
  }
  return { ok: false, error: `want an operator (=, ==, !=, in, notin) after "${key}"` };
}

function isOp(token: Token | undefined, text: string): boolean {
  return token?.kind === "op" && token.text === text;
}

function isWord(token: Token | undefined, text: string): boolean {
  return token?.kind === "word" && token.text === text;
}

/** The end of the input or a "," closes a requirement (and stands for an empty value). */
function endsRequirement(token: Token | undefined): boolean {
  return token === undefined || token.kind === "end" || isOp(token, ",");
}

/** One value; an absent value (`a=` followed by "," or the end) is the empty string, as in Kubernetes. */
function parseValue(tokens: readonly Token[], at: number): Step<string> {
  const token = tokens[at];
  if (endsRequirement(token)) return { ok: true, value: "", next: at };
  if (token?.kind !== "word") return { ok: false, error: "want a label value" };
  const error = checkValue(token.text);
  return error === undefined ? { ok: true, value: token.text, next: at + 1 } : { ok: false, error };
}

/** "(v1, v2)" → sorted, unique values. Empty items ("()", "(a,)") are the empty value, as in Kubernetes. */
function parseValueList(tokens: readonly Token[], at: number): Step<string[]> {
  if (!isOp(tokens[at], "(")) return { ok: false, error: `want "(" after in/notin` };
  const values = new Set<string>();
  let i = at + 1;
  for (;;) {
    const token = tokens[i];
    const value = token?.kind === "word" ? token.text : "";
    const error = checkValue(value);
    if (error !== undefined) return { ok: false, error };
    values.add(value);
    if (token?.kind === "word") i += 1;
    if (isOp(tokens[i], ")")) break;
    if (!isOp(tokens[i], ",")) return { ok: false, error: `want "," or ")" in a value list` };
    i += 1;
  }
  return { ok: true, value: [...values].sort(), next: i + 1 };
}

/** Label key: optional DNS-subdomain prefix and "/", then a name of at most 63 characters. */
function checkKey(key: string): string | undefined {
  const slash = key.indexOf("/");
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `label key "${key}" has an invalid prefix (want a DNS subdomain)`;
  }
  if (!NAME.test(name))
    return `label key "${key}" is invalid (want a name of at most 63 alphanumerics, "-", "_", ".")`;
  return undefined;
}

function checkValue(value: string): string | undefined {
  if (value === "" || NAME.test(value)) return undefined;
  return `label value "${value}" is invalid (want at most 63 alphanumerics, "-", "_", ".")`;
}

/** True when the labels satisfy every requirement (an empty list selects everything). */
export function matchesSelector(
  labels: Readonly<Record<string, string>>,
  requirements: readonly LabelRequirement[],
): boolean {
  return requirements.every((requirement) => matchesRequirement(labels, requirement));
}

function matchesRequirement(
  labels: Readonly<Record<string, string>>,
  requirement: LabelRequirement,
): boolean {
  const value = Object.hasOwn(labels, requirement.key) ? labels[requirement.key] : undefined;
  switch (requirement.op) {
    case "exists":
      return value !== undefined;
    case "doesnotexist":
      return value === undefined;
    case "in":
      return value !== undefined && requirement.values.includes(value);
    case "notin":
      // Kubernetes semantics: `a!=b` and `a notin (b)` also match when label a is absent.
      return value === undefined || !requirement.values.includes(value);
  }
}
