import { SproutError } from "../shared/errors";
import { readWithin } from "../shared/read-within";
import { normalizePath } from "./client";

/** AUTH_BODY_LIMIT: credentials, tokens and invites are a few hundred bytes; anyone may send these. */
export const AUTH_BODY_LIMIT = 8 * 1024;
/** DEPLOY_BODY_LIMIT: a deployment's manifest (up to 200,000 entries of path, digest and size). */
export const DEPLOY_BODY_LIMIT = 32 * 1024 * 1024;
/** DEFAULT_BODY_LIMIT: every other request (settings, heartbeats, task results, UI forms). */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/**
 * SERVER_BODY_CAP is the HTTP server's own backstop, well above every route's limit so that routes
 * answer their own JSON 413 (the server's is a bare one that closes the connection).
 */
export const SERVER_BODY_CAP = 128 * 1024 * 1024;

/**
 * UI_UPLOAD_LIMIT: one tar of the admin UI's upload, passed through to the node as it streams. The
 * browser sends batches of a few MB, or one file alone when it is larger (up to the 100 MB per-file
 * limit, plus its tar headers); the node checks every entry against the manifest.
 */
export const UI_UPLOAD_LIMIT = 101 * 1024 * 1024;
const UI_UPLOAD_INIT = /^\/ui\/deployments\/[^/]+\/upload\/init$/;
const UI_UPLOAD_FILE = /^\/ui\/deployments\/[^/]+\/upload\/file$/;

/** STREAMED is the parsed "body" of a route whose body is passed on unread (a route-level parse "none" does not stop onParse). */
export const STREAMED = Object.freeze({ streamed: true as const });

const AUTH_PATHS = /^\/(api\/user(\/token|\/password)?|api\/users|api\/token\/(refresh|revoke)|api\/tokens|ui\/login|ui\/logout)$/;

/** bodyLimit is the most a request to `method path` may send, in bytes. */
export function bodyLimit(method: string, rawPath: string): number {
  const path = normalizePath(rawPath);
  if (method === "POST" && path === "/api/deployment") return DEPLOY_BODY_LIMIT;
  // The admin UI's deploy passes the node's two upload calls through the master (ui/upload-proxy.ts).
  if (method === "POST" && UI_UPLOAD_INIT.test(path)) return DEPLOY_BODY_LIMIT;
  if (method === "POST" && UI_UPLOAD_FILE.test(path)) return UI_UPLOAD_LIMIT;
  if (AUTH_PATHS.test(path)) return AUTH_BODY_LIMIT;
  return DEFAULT_BODY_LIMIT;
}

const tooLarge = (limit: number) =>
  new SproutError(413, "body_too_large", `The request body is larger than this route takes (${limit} bytes).`, "Send less; a deployment's manifest may hold up to 200,000 files.");

/**
 * checkContentLength refuses a request whose declared length is over its route's limit, before a
 * byte of the body is read (run from onRequest).
 */
export function checkContentLength(req: Request): void {
  const declared = req.headers.get("content-length");
  if (declared === null) return;
  const limit = bodyLimit(req.method, new URL(req.url).pathname);
  if (Number(declared) > limit) throw tooLarge(limit);
}

/**
 * readLimited reads a body as text and stops (413) as soon as it passes `limit` bytes, so a body sent
 * without Content-Length (chunked) is cut off rather than held whole in memory.
 */
export function readLimited(req: Request, limit = bodyLimit(req.method, new URL(req.url).pathname)): Promise<string> {
  return readWithin(req.body, limit, () => tooLarge(limit));
}

/**
 * parseLimitedBody is the master's body parser, in place of Elysia's (which reads any size): JSON
 * and HTML forms, read within the route's limit. Any other type stays text, which the route's schema
 * then refuses; an empty body is no body.
 */
export async function parseLimitedBody(req: Request, contentType: string): Promise<unknown> {
  const path = new URL(req.url).pathname;
  // Left unread: the route streams it on, with a declared length checked by checkContentLength.
  if (req.method === "POST" && (UI_UPLOAD_INIT.test(path) || UI_UPLOAD_FILE.test(path))) return STREAMED;
  const text = await readLimited(req);
  if (text === "") return undefined;
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (type === "application/json") return JSON.parse(text);
  if (type === "application/x-www-form-urlencoded") return Object.fromEntries(new URLSearchParams(text));
  return text;
}
