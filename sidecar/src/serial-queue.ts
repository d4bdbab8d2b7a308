// Runs async tasks one at a time, in the order they were queued. Its tail settles to nothing, so
// a finished task's result (bgpd's read-back at 10k is megabytes) is not kept until the next task.

export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Starts `task` once every task queued before it has settled; a failed task does not stop the next. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    // Not result.catch(…): that settles to result's own value when it succeeds.
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
