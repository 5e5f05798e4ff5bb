import { t } from "elysia";
import { Id, Sha256, SiteName } from "./common";

/**
 * ManifestEntry is one file of a deployment. `path` is relative, uses `/`, and never holds `..`,
 * a backslash, a NUL or a leading `/` (see shared/paths.ts: the master and agent reject those).
 */
export const ManifestEntry = t.Object({
  path: t.String({ minLength: 1, maxLength: 1024 }),
  sha256: Sha256,
  // A plain JSON number, not t.Integer: Elysia's integer also takes numeric strings through a
  // transform that walks the whole body, about ten times the cost of checking 100,000 entries.
  size: t.Number({ minimum: 0, multipleOf: 1, error: "a whole number of at least 0" }),
});
export type ManifestEntry = typeof ManifestEntry.static;

/** Manifest lists every file of a deployment, sorted by path (see shared/manifest.ts). */
export const Manifest = t.Array(ManifestEntry, { maxItems: 200_000 });
export type Manifest = typeof Manifest.static;

/**
 * DeploymentStatus: pending (created) -> uploading -> staged (on every replica) -> ready (served:
 * activated as production, or reachable at its preview URL) | failed (reason in `error` and events).
 */
export const DeploymentStatus = t.Union([
  t.Literal("pending"),
  t.Literal("uploading"),
  t.Literal("staged"),
  t.Literal("ready"),
  t.Literal("failed"),
]);
export type DeploymentStatus = typeof DeploymentStatus.static;

/** DeploymentCreate is POST /api/deployment. The site is created if the caller has none of that name. */
export const DeploymentCreate = t.Object({
  site: SiteName,
  /** production: activate on the site's production URL once staged; otherwise a preview. */
  production: t.Optional(t.Boolean()),
  manifest: Manifest,
  /** message: what this deploy is for (a commit subject, a ticket...), shown in lists and the UI. */
  message: t.Optional(t.String({ maxLength: 500 })),
});
export type DeploymentCreate = typeof DeploymentCreate.static;

/** DeploymentEvent is one line of a deployment's log. */
export const DeploymentEvent = t.Object({
  id: t.Integer(),
  at: t.String(),
  level: t.Union([t.Literal("info"), t.Literal("warn"), t.Literal("error")]),
  message: t.String(),
  agent: t.Union([t.String(), t.Null()]),
});
export type DeploymentEvent = typeof DeploymentEvent.static;

/** DeploymentInfo is GET /api/deployment/:id (events only there) and the rows of a site's list. */
export const DeploymentInfo = t.Object({
  id: Id,
  site: SiteName,
  status: DeploymentStatus,
  /** production: the deploy asked to go to production. */
  production: t.Boolean(),
  /** is_production: this deployment is what the production URL serves now. */
  is_production: t.Boolean(),
  /**
   * superseded: a deployment asked for production (deploy --prod, promote, rollback) whose place
   * a newer production change took: it stays a preview unless promoted again, so nobody should
   * wait for it to go live.
   */
  superseded: t.Optional(t.Boolean()),
  files_total: t.Integer(),
  bytes_total: t.Integer(),
  /** files_uploaded: how many files the node lacked and received. */
  files_uploaded: t.Integer(),
  bytes_uploaded: t.Integer(),
  manifest_digest: Sha256,
  url: t.String(),
  preview_url: t.String(),
  error: t.Union([t.String(), t.Null()]),
  /** message: the deploy's message, or null when it was given none. */
  message: t.Union([t.String(), t.Null()]),
  created_at: t.String(),
  finished_at: t.Union([t.String(), t.Null()]),
  events: t.Optional(t.Array(DeploymentEvent)),
});
export type DeploymentInfo = typeof DeploymentInfo.static;

/** UploadTarget tells the CLI which agent to upload to and with what grant. */
export const UploadTarget = t.Object({
  agent_id: Id,
  /** agent_url: base URL of the agent API, e.g. http://10.0.0.5:7070 */
  agent_url: t.String(),
  /** agent_pin: the pin of the agent API's self-signed certificate; the CLI accepts only that key. */
  agent_pin: t.Optional(t.Union([t.String(), t.Null()])),
  /** grant: a short-lived token signed by the master, bound to site, deployment and manifest digest. */
  grant: t.String(),
});
export type UploadTarget = typeof UploadTarget.static;

/** DeploymentCreated answers POST /api/deployment. */
export const DeploymentCreated = t.Object({
  deployment: DeploymentInfo,
  upload: UploadTarget,
});
export type DeploymentCreated = typeof DeploymentCreated.static;

/** PROMOTION_REQUESTED is the log line the master writes when promote or rollback asks the nodes. */
export const PROMOTION_REQUESTED = "Promotion to production requested.";

/** Promote is POST /api/site/:name/promote. */
export const Promote = t.Object({ deployment_id: Id });
export type Promote = typeof Promote.static;

/** Cancel is POST /api/site/:name/cancel: stop a deployment of the site that is still uploading. */
export const Cancel = t.Object({ deployment_id: Id });
export type Cancel = typeof Cancel.static;

/** CANCELLED is the error a cancelled deployment records (the CLI and the UI show it as is). */
export const CANCELLED = "Cancelled";

/** Rollback is POST /api/site/:name/rollback; without deployment_id, the previous production deployment. */
export const Rollback = t.Object({ deployment_id: t.Optional(Id) });
export type Rollback = typeof Rollback.static;

/**
 * StatusReport is POST /api/deployment/status, sent by an agent (agent token) for each step.
 * `phase` moves the deployment on; `message` becomes an event of its log.
 */
export const StatusReport = t.Object({
  deployment_id: Id,
  phase: t.Union([
    t.Literal("log"),        // a log line only
    t.Literal("uploading"),  // init answered; files_missing tells how many will come
    t.Literal("uploaded"),   // upload stream accepted
    t.Literal("staged"),     // tree of hard links ready on this node
    t.Literal("active"),     // this node swapped `current` to the deployment
    t.Literal("failed"),
  ]),
  message: t.String({ maxLength: 4000 }),
  level: t.Optional(t.Union([t.Literal("info"), t.Literal("warn"), t.Literal("error")])),
  files_uploaded: t.Optional(t.Integer({ minimum: 0 })),
  bytes_uploaded: t.Optional(t.Integer({ minimum: 0 })),
  /** generation: with "active", the site generation the node now serves. */
  generation: t.Optional(t.Integer({ minimum: 0 })),
});
export type StatusReport = typeof StatusReport.static;
