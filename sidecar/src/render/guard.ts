// Last line of defence where data becomes configuration text: every value the context emits is
// checked against the narrow shape FRR expects. A failure is a broken invariant (a bug upstream).

export class ContextInvariantError extends Error {
  constructor(message: string) {
    super(`template context: ${message}`);
    this.name = "ContextInvariantError";
  }
}

/** Returns `value` if it matches `shape`; throws otherwise, quoting it as JSON so a newline shows. */
export function checked(value: string, shape: RegExp, what: string): string {
  if (!shape.test(value))
    throw new ContextInvariantError(`${what} ${JSON.stringify(value)} is not ${shape.source}`);
  return value;
}

export function checkedInt(value: number, min: number, max: number, what: string): string {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ContextInvariantError(`${what} ${value} is not an integer in ${min}..${max}`);
  }
  return String(value);
}

/** Shapes of the tokens the context emits. */
export const SHAPE = {
  name: /^[A-Za-z0-9_.-]{1,63}$/,
  hostPrefix: /^(?:[0-9.]{7,15}\/32|[0-9a-f:]{2,39}\/128)$/,
  community:
    /^(?:[0-9]{1,5}:[0-9]{1,5}|graceful-shutdown|accept-own|blackhole|no-export|no-advertise|local-AS|no-peer)$/,
  largeCommunity: /^[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$/,
  interfaceName: /^[A-Za-z0-9_.:-]{1,15}$/,
  hostname: /^[A-Za-z0-9.-]{1,63}$/,
  description: /^[A-Za-z0-9_.:@ -]{1,80}$/,
  password: /^[\x21-\x7e]{1,80}$/,
  singleLine: /^[\x20-\x7e]{0,200}$/,
} as const;
