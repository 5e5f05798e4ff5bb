/**
 * SproutError is the one error type of Sprout. `code` is stable and machine-readable, `status` is the
 * HTTP status it maps to, `message` says what happened and `hint` what to do next.
 * Messages never contain secrets (tokens, passwords): callers pass names, not values.
 */
export class SproutError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    /** cause: the lower-level error this one reports (a fetch's, for "unreachable"), never shown to users. */
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SproutError";
  }

  /** toJSON gives the wire shape `{"error":{"code","message","hint?"}}` (protocol/common.ts ErrorBody). */
  toJSON() {
    return { error: { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) } };
  }
}

export const badRequest = (code: string, message: string, hint?: string) => new SproutError(400, code, message, hint);
export const unauthorized = (message = "Authentication required.", hint = "Run `sprout login`, or set SPROUT_TOKEN.") =>
  new SproutError(401, "unauthorized", message, hint);
export const forbidden = (message: string, hint?: string) => new SproutError(403, "forbidden", message, hint);
export const notFound = (what: string, hint?: string) => new SproutError(404, "not_found", `${what} not found.`, hint);
export const conflict = (code: string, message: string, hint?: string) => new SproutError(409, code, message, hint);
export const tooLarge = (message: string, hint?: string) => new SproutError(413, "too_large", message, hint);
export const tooMany = (message: string, hint?: string) => new SproutError(429, "rate_limited", message, hint);
export const unavailable = (code: string, message: string, hint?: string) => new SproutError(503, code, message, hint);

/** isSproutError narrows an unknown thrown value. */
export const isSproutError = (e: unknown): e is SproutError => e instanceof SproutError;

/** refusedConnection: the error of a request no server took (nothing listens there): sending it again is safe, whatever its method. */
export function refusedConnection(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code ?? "";
  return code === "ECONNREFUSED" || code === "ConnectionRefused";
}

/**
 * unreachableReason says in plain words why a request got no answer: fetch's own messages ("ECONNREFUSED:
 * Unable to connect. Is the computer able to access the url?") name the runtime's internals.
 */
export function unreachableReason(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code ?? "";
  if (refusedConnection(e)) return "connection refused (nothing listens at that address)";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") return "its host name does not resolve";
  if (code === "ECONNRESET" || code === "ConnectionClosed" || code === "EPIPE") return "the connection was cut";
  if (e.name === "TimeoutError" || code === "ETIMEDOUT" || code === "ETIMEOUT") return "no answer in time";
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return "no route to that address";
  return e.message.replace(/[.\s]+$/, "");
}
