import { t } from "elysia";
import { Id, Sha256 } from "./common";
import { Manifest } from "./deployment";

/** UploadInit is POST /api/upload/init on an agent: the master's grant plus the full manifest. */
export const UploadInit = t.Object({
  grant: t.String({ minLength: 1, maxLength: 4096 }),
  deployment_id: Id,
  manifest: Manifest,
});
export type UploadInit = typeof UploadInit.static;

/** UploadInitAnswer: the upload token for POST /api/upload/file and the digests the node lacks. */
export const UploadInitAnswer = t.Object({
  upload_token: t.String(),
  missing: t.Array(Sha256),
});
export type UploadInitAnswer = typeof UploadInitAnswer.static;

/**
 * POST /api/upload/file carries the seed's `{upload_token, deployment_id, dist}` as:
 *   header `X-Upload-Token: <upload_token>`, header `X-Deployment-Id: <deployment_id>`,
 *   body = `dist`, an uncompressed POSIX tar stream (Content-Type: application/x-tar) holding
 *   the missing files under their manifest paths. Regular files only.
 * Headers rather than a JSON/multipart body so the files stream through without buffering.
 */
export { UPLOAD_TOKEN_HEADER, DEPLOYMENT_ID_HEADER } from "./upload-headers";

/** UploadFileAnswer: what the agent kept, and that it staged the deployment. */
export const UploadFileAnswer = t.Object({
  files_received: t.Integer(),
  bytes_received: t.Integer(),
  staged: t.Boolean(),
});
export type UploadFileAnswer = typeof UploadFileAnswer.static;
