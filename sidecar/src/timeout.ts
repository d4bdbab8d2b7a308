// One way to bound a wait: the promise, or a rejection with `message` after `ms`. The work itself
// is not cancelled (it may still finish in the background); the caller stops waiting for it.

export function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        reject(new Error(message));
      },
      Math.max(0, ms),
    );
  });
  return Promise.race([work, late]).finally(() => {
    clearTimeout(timer);
  });
}
