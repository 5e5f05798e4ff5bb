import { SproutError } from "./errors";
import { logger } from "./log";

const log = logger("http");

/**
 * errorResponse turns anything thrown in an Elysia handler into the JSON error of the API, shared by
 * master and agent: SproutError keeps its status; validation problems become one 400 naming every bad
 * field; unparsable JSON a 400; unknown routes a 404; anything else a 500 with a generic message
 * (logged with the route, never sent to the client).
 */
export function errorResponse(code: string | number, error: unknown, path: string): Response {
  if (error instanceof SproutError) return json(error.status, error.toJSON());
  // A body parser's own refusal (e.g. 413 from the master's size limit) arrives wrapped in a parse error.
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (code === "PARSE" && cause instanceof SproutError) return json(cause.status, cause.toJSON());
  if (code === "VALIDATION") return json(400, { error: { code: "invalid_request", message: validationMessage(error) } });
  if (code === "PARSE")
    return json(400, { error: { code: "malformed_json", message: "The request body is not valid JSON (or not the declared content type)." } });
  if (code === "NOT_FOUND") return json(404, { error: { code: "not_found", message: `No route ${path}.` } });
  if (code === "INVALID_COOKIE_SIGNATURE") return json(400, { error: { code: "bad_cookie", message: "Bad cookie." } });
  log.error("unhandled error", { path, error: error instanceof Error ? error.stack ?? error.message : String(error) });
  return json(500, { error: { code: "internal", message: "Something went wrong on the server; it has been logged." } });
}

function validationMessage(error: unknown): string {
  const e = error as { all?: { path?: string; message?: string; summary?: string }[]; message?: string };
  const all = Array.isArray(e.all) ? e.all : [];
  const parts = all.slice(0, 20).map((x) => {
    const field = (x.path ?? "").replace(/^\//, "").replace(/\//g, ".") || "body";
    return `${field}: ${x.summary ?? x.message ?? "invalid"}`;
  });
  return parts.length ? `Invalid request: ${[...new Set(parts)].join("; ")}.` : "Invalid request.";
}

/** json answers a JSON body with a status. */
export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });
}
