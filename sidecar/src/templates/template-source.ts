// Holds the current, validated template set and swaps it live when the files change
// (a ConfigMap update arrives as a `..data` symlink swap). A set that fails to load, compile
// or trial-render is reported and ignored: the last good one stays in force.

import { relative, sep } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import { OneShot, type Clock } from "../clock.js";
import { compileTemplates, type CompiledTemplates } from "../render/renderer.js";
import { loadTemplateDir } from "./load-template-dir.js";

export interface TemplateLog {
  info(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export class TemplateSource {
  private compiled: CompiledTemplates | undefined;
  private watcher: FSWatcher | undefined;
  private readonly debounce: OneShot;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly dir: string,
    /** Throws when the set cannot render (e.g. a trial render of the empty state). */
    private readonly validate: (t: CompiledTemplates) => void,
    private readonly log: TemplateLog,
    /** Times the debounce of a burst of file events. */
    clock: Clock,
  ) {
    this.debounce = new OneShot(clock);
  }

  get current(): CompiledTemplates {
    if (this.compiled === undefined) throw new Error("templates not loaded");
    return this.compiled;
  }

  /** Loads, compiles and validates; throws with the reason when the set is unusable. */
  async load(): Promise<void> {
    const compiled = compileTemplates(await loadTemplateDir(this.dir));
    this.validate(compiled);
    this.compiled = compiled;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  watch(debounceMs = 200): void {
    // Polling-free inotify watch of the whole directory; symlinks are followed so the
    // ConfigMap's atomic `..data` swap shows up as changes of the files behind it.
    // The test cases that ship next to the templates (cases/) are not rendered: editing them
    // must not re-apply FRR's config.
    this.watcher = watch(this.dir, {
      ignoreInitial: true,
      followSymlinks: true,
      depth: 3,
      ignored: (path: string) => isUnderCases(this.dir, path),
    });
    this.watcher.on("all", () => {
      this.debounce.arm(debounceMs, () => void this.reload());
    });
  }

  async close(): Promise<void> {
    this.debounce.stop();
    await this.watcher?.close();
  }

  private async reload(): Promise<void> {
    try {
      await this.load();
      this.log.info({ dir: this.dir }, "templates changed; re-applying");
      for (const l of this.listeners) l();
    } catch (err) {
      this.log.error(
        { dir: this.dir, err: err instanceof Error ? err.message : String(err) },
        "new templates refused; the last good ones stay in force",
      );
    }
  }
}

/** True for `DIR/cases` and everything below it. */
export function isUnderCases(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === "cases" || rel.startsWith(`cases${sep}`);
}
