import { SproutError } from "./errors";
import { logger } from "./log";
import { closest } from "./command";

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
  const e = error as { all?: Problem[] };
  const parts = describeProblems(Array.isArray(e.all) ? e.all : []);
  return parts.length ? `Invalid request: ${parts.join("; ")}.` : "Invalid request.";
}

/** Problem is one validation failure as TypeBox (and so Elysia) reports it: where, against what schema, what value. */
export interface Problem {
  path?: string;
  schema?: Record<string, unknown>;
  value?: unknown;
}

/**
 * describeProblems says validation failures in the user's terms, one "field: what it needs" per
 * field ("password: at least 8 characters", "replicas: a whole number from 1 to 16"), read from the
 * schema's own limits rather than from TypeBox's wording, and never showing a pattern. Every 400 of
 * the master and the agent, and the CLI's check of sprout.json, say their problems with it.
 */
export function describeProblems(all: Problem[], limit = 20): string[] {
  const byField = new Map<string, string>();
  for (const p of all) {
    const field = fieldName(p.path ?? "");
    if (!byField.has(field)) byField.set(field, `${field}: ${unknownField(p) ?? needs(p.schema ?? {}, p.value)}`);
  }
  return [...byField.values()].slice(0, limit);
}

/**
 * unknownField says "is not a field here" for a property an object schema does not declare (TypeBox
 * reports it with the object's schema), naming the nearest declared one when it looks like a typo.
 */
function unknownField(p: Problem): string | undefined {
  const props = p.schema?.properties as Record<string, unknown> | undefined;
  const key = (p.path ?? "").split("/").pop() ?? "";
  if (p.schema?.type !== "object" || !props || p.schema.additionalProperties !== false || key in props) return undefined;
  const near = closest(key, Object.keys(props));
  return `is not accepted here${near ? ` (did you mean ${near}?)` : ""}`;
}

/** fieldName turns a JSON pointer (/manifest/3/path) into what a user reads (manifest[3].path). */
function fieldName(pointer: string): string {
  const parts = pointer.split("/").slice(1).map((x) => x.replace(/~1/g, "/").replace(/~0/g, "~"));
  let out = "";
  for (const x of parts) out += /^\d+$/.test(x) ? `[${x}]` : out ? `.${x}` : x;
  return out || "body";
}

const plural = (n: unknown, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

/** needs says what a value must be to satisfy `schema`; `value` undefined means it was left out. */
function needs(schema: Record<string, unknown>, value: unknown): string {
  if (value === undefined) return "is required";
  if (typeof schema.error === "string") return schema.error;
  const anyOf = schema.anyOf as Record<string, unknown>[] | undefined;
  if (anyOf) {
    const consts = anyOf.filter((s) => "const" in s).map((s) => String(s.const));
    if (consts.length === anyOf.length) return `must be one of: ${consts.join(", ")}`;
    // Elysia's numeric fields accept a number or a numeric string: describe the number.
    const num = anyOf.find((s) => s.type === "integer" || s.type === "number");
    if (num) return needs(num, value);
    if (anyOf.some((s) => s.type === "null")) return needs(anyOf.find((s) => s.type !== "null") ?? {}, value);
    return "is not one of the accepted forms";
  }
  switch (schema.type) {
    case "string": {
      if (typeof value !== "string") return "must be text";
      const min = schema.minLength as number | undefined;
      const max = schema.maxLength as number | undefined;
      if (min !== undefined && value.length < min) return min === 1 ? "must not be empty" : `at least ${plural(min, "character")}`;
      if (max !== undefined && value.length > max) return `at most ${plural(max, "character")}`;
      if (schema.format === "email") return "must be an email address";
      if (schema.format) return `must be a valid ${String(schema.format)}`;
      return "contains characters or a form that is not accepted";
    }
    case "integer":
    case "number": {
      const whole = schema.type === "integer" ? "a whole number" : "a number";
      const min = schema.minimum as number | undefined;
      const max = schema.maximum as number | undefined;
      if (min !== undefined && max !== undefined) return `${whole} from ${min} to ${max}`;
      if (min !== undefined) return `${whole} of at least ${min}`;
      if (max !== undefined) return `${whole} of at most ${max}`;
      return `must be ${whole}`;
    }
    case "boolean":
      return "must be true or false";
    case "array": {
      if (!Array.isArray(value)) return "must be a list";
      if (schema.maxItems !== undefined && value.length > (schema.maxItems as number)) return `at most ${plural(schema.maxItems, "item")}`;
      if (schema.minItems !== undefined && value.length < (schema.minItems as number)) return `at least ${plural(schema.minItems, "item")}`;
      return "is not a valid list";
    }
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value) ? "has a field that is not accepted" : "must be an object";
    case "null":
      return "must be empty (null)";
  }
  if ("const" in schema) return `must be ${String(schema.const)}`;
  return "is not valid";
}

/** json answers a JSON body with a status. */
export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });
}
