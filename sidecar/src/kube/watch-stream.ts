// One watch request to the API server: its stream of newline-separated JSON events handed out
// one by one, and exactly one end (clean, failed, aborted, or quiet for too long).

import type { KubeConfig } from "@kubernetes/client-node";
import { openRequest, readBody, statusMessage } from "./api-request.js";

export type WatchEventHandler = (type: string, object: unknown) => void;
/** null: the server ended the stream (its timeoutSeconds); otherwise why the watch ended. */
export type WatchDone = (err: unknown) => void;

/** What the Reflector needs of a watch (a test can hand it one that fails). */
export interface WatchOpener {
  /** Starts the watch; the controller ends it. `done` is called once, unless aborted first. */
  watch(
    path: string,
    params: Readonly<Record<string, string | boolean>>,
    onEvent: WatchEventHandler,
    done: WatchDone,
  ): Promise<AbortController>;
}

/** The watch could not start: the API server answered with this status instead of a stream. */
export class WatchStatusError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(`watch: HTTP ${statusCode}: ${message}`);
  }
}

/** Ends a watch that neither connects nor sends anything (not even a bookmark) for this long. */
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export class ApiWatch implements WatchOpener {
  constructor(
    private readonly kc: KubeConfig,
    private readonly idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS,
  ) {}

  async watch(
    path: string,
    params: Readonly<Record<string, string | boolean>>,
    onEvent: WatchEventHandler,
    done: WatchDone,
  ): Promise<AbortController> {
    const query = new URLSearchParams({ watch: "true" });
    for (const [key, value] of Object.entries(params)) query.set(key, String(value));
    const controller = new AbortController();
    const end = onceEnd(controller, done);
    const idle = idleTimer(this.idleTimeoutMs, () => {
      const quiet = new Error(`watch sent nothing for ${this.idleTimeoutMs} ms`);
      quiet.name = "TimeoutError";
      end(quiet);
    });
    controller.signal.addEventListener(
      "abort",
      () => {
        idle.stop();
      },
      { once: true },
    );
    try {
      const response = await openRequest(this.kc, {
        method: "GET",
        path: `${path}?${query.toString()}`,
        signal: controller.signal,
      });
      if (response.statusCode !== 200) {
        const body = await readBody(response).catch(() => "");
        end(new WatchStatusError(response.statusCode ?? 0, statusMessage(body)));
        return controller;
      }
      idle.reset();
      streamLines(response, {
        line: (text) => {
          // The rest of a chunk after the watch ended (a bad line, the owner's abort) is dropped.
          if (controller.signal.aborted) return;
          idle.reset();
          const event = parseEvent(text);
          if (event === undefined)
            end(new Error(`watch sent a line that is no event: ${text.slice(0, 120)}`));
          else onEvent(event.type, event.object);
        },
        end,
      });
    } catch (err) {
      end(err);
    }
    return controller;
  }
}

/** `done` once, and the request torn down with it; an abort by the owner calls nothing. */
function onceEnd(controller: AbortController, done: WatchDone): (err: unknown) => void {
  let ended = false;
  return (err) => {
    if (ended) return;
    ended = true;
    const ownerAborted = controller.signal.aborted;
    controller.abort();
    if (!ownerAborted) done(err);
  };
}

function idleTimer(ms: number, fire: () => void): { reset(): void; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const reset = (): void => {
    stop();
    timer = setTimeout(fire, ms);
    timer.unref();
  };
  reset();
  return { reset, stop };
}

interface LineSink {
  line(text: string): void;
  end(err: unknown): void;
}

/** Splits a response into lines as chunks arrive (an event may span chunks). */
function streamLines(response: NodeJS.ReadableStream, sink: LineSink): void {
  response.setEncoding("utf8");
  let pending = "";
  response.on("data", (chunk: string) => {
    pending += chunk;
    let at = pending.indexOf("\n");
    while (at >= 0) {
      const text = pending.slice(0, at);
      pending = pending.slice(at + 1);
      if (text.trim() !== "") sink.line(text);
      at = pending.indexOf("\n");
    }
  });
  response.on("end", () => {
    if (pending.trim() !== "") sink.line(pending);
    sink.end(null);
  });
  response.on("error", (err) => {
    sink.end(err);
  });
  // A connection closed without an end or an error (the server went away): watch on.
  response.on("close", () => {
    sink.end(null);
  });
}

function parseEvent(text: string): { type: string; object: unknown } | undefined {
  try {
    const event = JSON.parse(text) as { type?: unknown; object?: unknown };
    return typeof event.type === "string" ? { type: event.type, object: event.object } : undefined;
  } catch {
    return undefined;
  }
}
