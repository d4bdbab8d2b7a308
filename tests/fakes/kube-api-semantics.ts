// The apiserver rules the fake API server (fake-kube-api.ts) reproduces, kept free of I/O: metav1.Status
// errors, label and field selectors, and JSON / merge patches.

// ------------------------------------------------------------------------------------------- errors

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** Thrown while handling a request; the server turns it into a metav1.Status response. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason: string = REASONS[code] ?? "Unknown",
  ) {
    super(message);
  }
}

export function statusBody(code: number, message: string, reason: string = REASONS[code] ?? "Unknown") {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}

// ------------------------------------------------------------------------------------------- values

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** JSON with sorted keys, to compare objects regardless of key order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isRecord(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

// ---------------------------------------------------------------------------------------- selectors

type Labels = Record<string, string>;
type LabelTest = (labels: Labels) => boolean;

const KEY = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`;
const VALUE = String.raw`[-A-Za-z0-9_.]*`;
const SET_TERM = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s+\(([^()]*)\)$`);
const EQUALITY_TERM = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
const EXISTS_TERM = new RegExp(String.raw`^(!?)\s*(${KEY})$`);
const VALUE_ONLY = new RegExp(String.raw`^${VALUE}$`);

/** Split on commas outside parentheses: "a in (x,y),b" → ["a in (x,y)", "b"]. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of selector) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      terms.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== "");
}

/** `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x,y)`, comma-separated (AND). 400 if malformed. */
export function labelSelectorTest(selector: string): LabelTest {
  const tests = splitTerms(selector).map(parseLabelTerm);
  return (labels) => tests.every((test) => test(labels));
}

function parseLabelTerm(term: string): LabelTest {
  const set = SET_TERM.exec(term);
  if (set !== null) {
    const [, key = "", op, list = ""] = set;
    const values = list.split(",").map((v) => v.trim());
    if (!values.every((v) => VALUE_ONLY.test(v))) {
      throw new ApiError(400, `unable to parse requirement: ${term}`);
    }
    const isIn = (labels: Labels) => labels[key] !== undefined && values.includes(labels[key]);
    // As with "!=", "notin" also matches objects that lack the label.
    return op === "in" ? isIn : (labels) => !isIn(labels);
  }
  const equality = EQUALITY_TERM.exec(term);
  if (equality !== null) {
    const [, key = "", op, value = ""] = equality;
    return op === "!=" ? (labels) => labels[key] !== value : (labels) => labels[key] === value;
  }
  const exists = EXISTS_TERM.exec(term);
  if (exists !== null) {
    const [, bang, key = ""] = exists;
    return bang === "!" ? (labels) => !Object.hasOwn(labels, key) : (labels) => Object.hasOwn(labels, key);
  }
  throw new ApiError(400, `unable to parse requirement: ${term}`);
}

interface FieldSource {
  name: string;
  namespace?: string | undefined;
}

// The apiserver supports only these two fields for Services and EndpointSlices, and answers 400 for others.
const FIELDS: Record<string, (meta: FieldSource) => string> = {
  "metadata.name": (meta) => meta.name,
  "metadata.namespace": (meta) => meta.namespace ?? "",
};

/** `metadata.name=x`, `metadata.namespace!=y`, comma-separated (AND). 400 for other fields. */
export function fieldSelectorTest(selector: string): (meta: FieldSource) => boolean {
  const tests = splitTerms(selector).map((term) => {
    const match = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (match === null) throw new ApiError(400, `invalid field selector: can't understand '${term}'`);
    const [, field = "", op, value = ""] = match;
    const read = FIELDS[field];
    if (read === undefined) throw new ApiError(400, `field label not supported: ${field}`);
    return op === "!="
      ? (meta: FieldSource) => read(meta) !== value
      : (meta: FieldSource) => read(meta) === value;
  });
  return (meta) => tests.every((test) => test(meta));
}

// -------------------------------------------------------------------------------------------- patches

/** Applies a PATCH body by its Content-Type; server-side apply is not supported (415). */
export function applyPatch(current: unknown, contentType: string | undefined, patch: unknown): unknown {
  const mediaType = (contentType ?? "").split(";")[0]?.trim() ?? "";
  switch (mediaType) {
    case "application/json-patch+json": // client-node's default for patch* calls
      return applyJsonPatch(current, patch);
    case "application/merge-patch+json":
      return mergePatch(current, patch);
    case "application/strategic-merge-patch+json":
      // Strategic merge differs only for lists with merge keys; a merge patch is close enough here.
      return mergePatch(current, patch);
    default:
      throw new ApiError(415, `unsupported patch media type "${mediaType}"`);
  }
}

/** RFC 7386. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) Reflect.deleteProperty(out, key);
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** RFC 6902 add/remove/replace/test. */
function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new ApiError(400, "a json patch must be an array of operations");
  let root: unknown = structuredClone(doc);
  for (const op of ops as unknown[]) root = applyJsonPatchOp(root, op);
  return root;
}

function applyJsonPatchOp(root: unknown, op: unknown): unknown {
  if (!isRecord(op) || typeof op.op !== "string" || typeof op.path !== "string") {
    throw new ApiError(400, "invalid json patch operation");
  }
  const tokens = op.path
    .split("/")
    .slice(1)
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
  const last = tokens.pop();
  if (last === undefined) {
    if (op.op === "add" || op.op === "replace") return op.value;
    throw new ApiError(422, `json patch ${op.op} on the whole document`);
  }
  let parent = root;
  for (const token of tokens) parent = childOf(parent, token);
  const exists = childOf(parent, last) !== undefined;
  switch (op.op) {
    case "test":
      if (canonical(childOf(parent, last)) !== canonical(op.value)) {
        throw new ApiError(422, `json patch test failed at ${op.path}`);
      }
      break;
    case "remove":
    case "replace":
      if (!exists) throw new ApiError(422, `json patch ${op.op}: ${op.path} does not exist`);
      if (op.op === "remove") removeChild(parent, last);
      else setChild(parent, last, op.value, false);
      break;
    case "add":
      setChild(parent, last, op.value, true);
      break;
    default:
      throw new ApiError(400, `unsupported json patch operation ${op.op}`);
  }
  return root;
}

function childOf(node: unknown, token: string): unknown {
  if (Array.isArray(node)) return (node as unknown[])[Number(token)];
  return isRecord(node) ? node[token] : undefined;
}

function setChild(node: unknown, token: string, value: unknown, insert: boolean): void {
  if (Array.isArray(node)) {
    const list = node as unknown[];
    const index = token === "-" ? list.length : Number(token);
    if (!Number.isInteger(index) || index < 0 || index > list.length) {
      throw new ApiError(422, `json patch: bad array index ${token}`);
    }
    list.splice(index, insert ? 0 : 1, value);
  } else if (isRecord(node)) {
    node[token] = value;
  } else {
    throw new ApiError(422, `json patch: no object or array at ${token}`);
  }
}

function removeChild(node: unknown, token: string): void {
  if (Array.isArray(node)) (node as unknown[]).splice(Number(token), 1);
  else if (isRecord(node)) Reflect.deleteProperty(node, token);
}
