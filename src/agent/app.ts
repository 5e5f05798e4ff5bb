import { Elysia, t } from "elysia";
import { existsSync } from "node:fs";
import { timingSafeEqual } from "node:crypto";
import { DEPLOYMENT_ID_HEADER, UPLOAD_TOKEN_HEADER, UploadInit } from "../protocol/upload";
import { Sha256 } from "../protocol/common";
import { SproutError, notFound } from "../shared/errors";
import { verifyPeerToken, verifyStatusToken } from "../shared/grant";
import { errorResponse } from "../shared/http-errors";
import { VERSION } from "../shared/version";
import { isPrivateAddress } from "../shared/private-address";
import type { AgentLiveness, AgentStatus } from "../protocol/agent";
import type { BlobStore } from "./blobs";
import type { StateFile } from "./state";
import type { Uploads } from "./uploads";
import { INIT_BODY_LIMIT, readLimited, stalledBody, watchStalls } from "./request-body";
import { type TimedServer, noIdleTimer } from "../shared/listen";

/** AgentAppDeps is what the agent API needs from the agent. */
export interface AgentAppDeps {
  uploads: Uploads;
  blobs: BlobStore;
  state: StateFile;
  /** agentToken: the token the agent was started with; it also opens the agent's full status. */
  agentToken: string;
  status: () => AgentStatus;
  /** ready lists why the node is not ready (nginx, disk); empty when it is. */
  ready: () => Promise<string[]>;
  /** metrics renders the node's Prometheus figures. */
  metrics: () => Promise<{ text: string; contentType: string }>;
  /** idleTimeoutS: the API's idle timeout (--idle-timeout); also how long a request body may stop arriving. */
  idleTimeoutS: number;
}

/** agentApp is the agent API (DESIGN.md section 4): status, the two upload steps, and blobs for peers. */
export const agentApp = (d: AgentAppDeps) =>
  new Elysia()
    .onError(({ code, error, path }) => errorResponse(code, error, path))
    // Liveness for anyone; the node's figures only for its own token or a master-signed status token.
    .get("/api/heartbeat", async ({ request }): Promise<AgentStatus | AgentLiveness> =>
      (await mayReadStatus(d, bearer(request))) ? d.status() : { ok: true, version: VERSION })
    .get("/healthz", () => ({ ok: true as const }))
    .get("/readyz", async ({ set }) => {
      const problems = await d.ready();
      set.status = problems.length ? 503 : 200;
      return { ok: !problems.length, problems };
    })
    // Figures for Prometheus: the agent's token, or a scrape from a private address.
    .get("/metrics", async ({ request, server }) => {
      const ip = server?.requestIP(request)?.address ?? "";
      if (!(await mayReadStatus(d, bearer(request))) && !isPrivateAddress(ip))
        throw new SproutError(403, "forbidden", "Metrics are served to private addresses or with the agent's token only.");
      const m = await d.metrics();
      return new Response(m.text, { headers: { "content-type": m.contentType } });
    })
    // Anyone may send this body: it is read within INIT_BODY_LIMIT, never whole whatever its size.
    .post("/api/upload/init", ({ body }) => d.uploads.init(body), {
      body: UploadInit,
      // (JSON that does not parse is Elysia's parse error: 400 malformed_json, as before.)
      parse: async ({ request, server }) => JSON.parse(await readBody(d, request, server, INIT_BODY_LIMIT)),
    })
    // The tar body streams straight to the blob store: no parsing, no buffering. A 2 GB upload takes
    // minutes: it is cut only when its bytes stop coming (watchStalls), not by Bun's timer.
    .post("/api/upload/file", async ({ request, server }) => {
      noIdleTimer(request, server);
      try {
        const body = request.body && watchStalls(request.body, d.idleTimeoutS * 1000);
        return await d.uploads.receive(request.headers.get(UPLOAD_TOKEN_HEADER), request.headers.get(DEPLOYMENT_ID_HEADER), body);
      } finally {
        server?.timeout(request, d.idleTimeoutS);
      }
    }, { parse: "none" })
    // Peers pull blobs to replicate a deployment, with the master's peer token: only blobs the
    // deployment's account holds here are answered; any other digest is "not found", held or not.
    .get("/api/blob/:sha", async ({ params, request }) => {
      const token = bearer(request);
      const key = d.state.state.grantPublicKey;
      if (!token || !key) throw new SproutError(401, "unauthorized", "Blobs are given to peer nodes only, with a peer token from the master.");
      const claims = await verifyPeerToken(key, token);
      if (claims.from !== d.state.state.agentId) throw new SproutError(403, "forbidden", "This peer token is for another node.");
      const p = d.blobs.path(params.sha);
      if (!d.blobs.owners.owns(claims.owner, params.sha) || !existsSync(p)) throw notFound("Blob");
      // Bun closes a file answer that outlasts a few idle timeouts however it progresses, and
      // server.timeout() does not change that (see noIdleTimer): with the default 120 s, a blob
      // (at most --max-file-size) must reach the peer within about 4 minutes.
      return new Response(Bun.file(p));
    }, { params: t.Object({ sha: Sha256 }) });

/**
 * readBody reads a request body as text within `limit`, with Bun's timer off and the body watched for
 * stalls instead (see watchStalls); the timer is back once the body is in.
 */
async function readBody(d: AgentAppDeps, request: Request, server: TimedServer, limit: number): Promise<string> {
  noIdleTimer(request, server);
  try {
    return await readLimited(request.body && watchStalls(request.body, d.idleTimeoutS * 1000), limit);
  } catch (e) {
    if (e instanceof SproutError) throw e;
    throw stalledBody(e);
  } finally {
    server?.timeout(request, d.idleTimeoutS);
  }
}

function bearer(request: Request): string | null {
  const h = request.headers.get("authorization");
  return h?.startsWith("Bearer ") ? h.slice(7).trim() || null : null;
}

/** mayReadStatus: the agent's own token (compared in constant time), or a master-signed status token for this agent. */
async function mayReadStatus(d: AgentAppDeps, token: string | null): Promise<boolean> {
  if (!token) return false;
  const a = Buffer.from(token);
  const b = Buffer.from(d.agentToken);
  if (a.length === b.length && timingSafeEqual(a, b)) return true;
  const { grantPublicKey, agentId } = d.state.state;
  if (!grantPublicKey || !agentId || token.startsWith("spa_")) return false;
  try {
    return (await verifyStatusToken(grantPublicKey, token)) === agentId;
  } catch {
    return false;
  }
}
