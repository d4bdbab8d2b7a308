// A small Dockerfile reader (instructions, stages, ARG substitution, hadolint pragmas) and a
// .dockerignore matcher, enough for tests/image to check the Dockerfile without a Docker engine.
// Not a general parser: heredocs, escape directives and ONBUILD are not supported.

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY, … */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined with a space, flags included. */
  readonly raw: string;
  /** The arguments after leading `--flag=value` options (for FROM, COPY, ADD, RUN). */
  readonly args: string;
  readonly flags: ReadonlyMap<string, string>;
  /** Exec (JSON) form arguments, when the instruction uses it. */
  readonly json: readonly string[] | undefined;
  /** 1-based line of the keyword. */
  readonly line: number;
  /** Comment lines directly above (no blank line between), without the leading `#`. */
  readonly comments: readonly string[];
}

export interface Stage {
  readonly index: number;
  readonly name: string | undefined;
  /** The FROM image as written, e.g. `node:${NODE_VERSION}-alpine`. */
  readonly baseRaw: string;
  /** The FROM image with the global ARG defaults substituted. */
  readonly base: string;
  readonly instructions: readonly Instruction[];
  /** ARG values in scope at the end of the stage (global defaults re-declared, plus its own). */
  readonly args: ReadonlyMap<string, string>;
}

export interface Dockerfile {
  readonly instructions: readonly Instruction[];
  /** ARGs before the first FROM, with their defaults (undefined: no default). */
  readonly globalArgs: ReadonlyMap<string, string | undefined>;
  readonly stages: readonly Stage[];
}

const FLAGGED = new Set(["FROM", "COPY", "ADD", "RUN"]);

export function parseDockerfile(text: string): Dockerfile {
  const instructions = readInstructions(text);
  const globalArgs = new Map<string, string | undefined>();
  const stages: Stage[] = [];
  let current:
    | {
        name: string | undefined;
        baseRaw: string;
        base: string;
        instructions: Instruction[];
        args: Map<string, string>;
      }
    | undefined;
  const close = () => {
    if (current !== undefined) stages.push({ index: stages.length, ...current });
  };
  const globals = () => new Map([...globalArgs].filter((e): e is [string, string] => e[1] !== undefined));
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      close();
      const [image = "", as, name] = ins.args.split(/\s+/);
      if (as !== undefined && as.toLowerCase() !== "as")
        throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      current = {
        name,
        baseRaw: image,
        base: substitute(image, globals()),
        instructions: [ins],
        args: new Map(),
      };
      continue;
    }
    if (current === undefined) {
      if (ins.keyword !== "ARG") throw new Error(`line ${ins.line}: ${ins.keyword} before the first FROM`);
      const [name, value] = splitArg(ins.args);
      globalArgs.set(name, value);
      continue;
    }
    current.instructions.push(ins);
    if (ins.keyword === "ARG") {
      const [name, value] = splitArg(ins.args);
      const inherited = globalArgs.get(name);
      const resolved = value ?? inherited;
      if (resolved !== undefined) current.args.set(name, substitute(resolved, current.args));
    }
  }
  close();
  return { instructions, globalArgs, stages };
}

/** `${NAME}` and `$NAME` from `vars`; unknown names stay as written. */
export function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, a?: string, b?: string) => {
      const value = vars.get(a ?? b ?? "");
      return value ?? whole;
    },
  );
}

function splitArg(args: string): [string, string | undefined] {
  const eq = args.indexOf("=");
  if (eq < 0) return [args.trim(), undefined];
  return [args.slice(0, eq).trim(), unquote(args.slice(eq + 1).trim())];
}

function unquote(s: string): string {
  return /^".*"$/.test(s) || /^'.*'$/.test(s) ? s.slice(1, -1) : s;
}

function readInstructions(text: string): Instruction[] {
  const lines = text.split("\n");
  const out: Instruction[] = [];
  let comments: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i] ?? "";
    if (first.trim() === "") {
      comments = [];
      continue;
    }
    if (/^\s*#/.test(first)) {
      comments.push(first.replace(/^\s*#\s?/, ""));
      continue;
    }
    const start = i;
    const pieces: string[] = [];
    let line = first;
    // Continuation lines end in a backslash; comment and blank lines inside them are dropped.
    while (/\\\s*$/.test(line)) {
      pieces.push(line.replace(/\\\s*$/, "").trim());
      i++;
      while (i < lines.length && (/^\s*#/.test(lines[i] ?? "") || (lines[i] ?? "").trim() === "")) i++;
      line = lines[i] ?? "";
    }
    pieces.push(line.trim());
    const joined = pieces.filter((p) => p !== "").join(" ");
    const m = /^(\S+)\s*(.*)$/.exec(joined);
    if (m === null) continue;
    const keyword = (m[1] ?? "").toUpperCase();
    const raw = m[2] ?? "";
    const { flags, rest } = FLAGGED.has(keyword)
      ? readFlags(raw)
      : { flags: new Map<string, string>(), rest: raw };
    out.push({ keyword, raw, args: rest, flags, json: readJson(rest), line: start + 1, comments });
    comments = [];
  }
  return out;
}

function readFlags(raw: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let rest = raw;
  for (
    let m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest);
    m !== null;
    m = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)
  ) {
    flags.set(m[1] ?? "", m[2] ?? "");
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

function readJson(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === "string") ? v : undefined;
  } catch {
    return undefined;
  }
}

/** COPY/ADD: sources and destination (shell or JSON form). */
export function copyPaths(ins: Instruction): { sources: string[]; dest: string } {
  const parts = ins.json ?? ins.args.split(/\s+/).filter((p) => p !== "");
  if (parts.length < 2) throw new Error(`line ${ins.line}: ${ins.keyword} needs a source and a destination`);
  return { sources: parts.slice(0, -1), dest: parts[parts.length - 1] ?? "" };
}

// ---- .dockerignore -------------------------------------------------------------------------------

interface IgnoreRule {
  readonly negate: boolean;
  readonly re: RegExp;
}

/** Docker's semantics: the last rule matching the path or any of its parent directories decides. */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules: IgnoreRule[] = [];
  for (const rawLine of text.split("\n")) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const negate = line.startsWith("!");
    const pattern = (negate ? line.slice(1) : line).trim().replace(/^\/+/, "").replace(/\/+$/, "");
    rules.push({ negate, re: globToRegExp(pattern) });
  }
  return (path: string) => {
    const parts = path.replace(/^\.\//, "").split("/");
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let excluded = false;
    for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) excluded = !rule.negate;
    return excluded;
  };
}

function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? "";
    if (c === "*" && glob[i + 1] === "*") {
      const slash = glob[i + 2] === "/";
      re += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
