import { Elysia, t } from "elysia";
import { existsSync } from "node:fs";
import { DEPLOYMENT_ID_HEADER, UPLOAD_TOKEN_HEADER, UploadInit } from "../protocol/upload";
import { Sha256 } from "../protocol/common";
import { notFound } from "../shared/errors";
import { errorResponse } from "../shared/http-errors";
import type { AgentStatus } from "../protocol/agent";
import type { BlobStore } from "./blobs";
import type { Uploads } from "./uploads";

/** agentApp is the agent API (DESIGN.md section 4): status, the two upload steps, and blobs for peers. */
export const agentApp = (d: { uploads: Uploads; blobs: BlobStore; status: () => AgentStatus }) =>
  new Elysia()
    .onError(({ code, error, path }) => errorResponse(code, error, path))
    .get("/api/heartbeat", () => d.status())
    .post("/api/upload/init", ({ body }) => d.uploads.init(body), { body: UploadInit })
    // The tar body streams straight to the blob store: no parsing, no buffering.
    .post("/api/upload/file", ({ request }) =>
      d.uploads.receive(request.headers.get(UPLOAD_TOKEN_HEADER), request.headers.get(DEPLOYMENT_ID_HEADER), request.body), { parse: "none" })
    // Blobs are public site content addressed by digest; peers pull them to replicate a deployment.
    .get("/api/blob/:sha", ({ params }) => {
      const p = d.blobs.path(params.sha);
      if (!existsSync(p)) throw notFound("Blob");
      return new Response(Bun.file(p));
    }, { params: t.Object({ sha: Sha256 }) });
