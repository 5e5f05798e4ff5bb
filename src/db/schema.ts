import { sql } from "drizzle-orm";
import { sqliteTable, text, integer, index, uniqueIndex, primaryKey } from "drizzle-orm/sqlite-core";

/**
 * The master's tables. Times are ISO-8601 strings (UTC). Ids are lower-case nanoids (shared/ids.ts).
 * Secrets are stored only as SHA-256 hashes (`*_hash`), passwords as argon2id (Bun.password).
 */

export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  isAdmin: integer("is_admin", { mode: "boolean" }).notNull().default(false),
  createdAt: text("created_at").notNull(),
  /** disabledAt: when the admin disabled the account (no login, no token works), or null. */
  disabledAt: text("disabled_at"),
}, (t) => [
  // Exactly one admin: a second can never be inserted, whatever races (made at start by --admin-email).
  uniqueIndex("users_one_admin").on(t.isAdmin).where(sql`is_admin = 1`),
]);

export const apiTokens = sqliteTable("api_tokens", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  name: text("name").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  createdAt: text("created_at").notNull(),
  lastUsedAt: text("last_used_at"),
  /** scope: what the token may do (protocol/user.ts ApiTokenScope); never mint tokens or change the password. */
  scope: text("scope", { enum: ["read", "deploy", "admin"] }).notNull().default("deploy"),
  /** sites: JSON array of the site names a `deploy` token is limited to; null for all the owner's sites. */
  sites: text("sites"),
  expiresAt: text("expires_at"),
}, (t) => [index("api_tokens_user").on(t.userId)]);

/** refresh_tokens rotate: each use replaces the row's token; reuse of a replaced one revokes the family. */
export const refreshTokens = sqliteTable("refresh_tokens", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  familyId: text("family_id").notNull(),
  tokenHash: text("token_hash").notNull().unique(),
  /** usedAt: set when rotated; presenting a used token again is reuse. */
  usedAt: text("used_at"),
  revokedAt: text("revoked_at"),
  expiresAt: text("expires_at").notNull(),
  createdAt: text("created_at").notNull(),
}, (t) => [index("refresh_tokens_family").on(t.familyId)]);

export const sites = sqliteTable("sites", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  ownerId: text("owner_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  /** settings: JSON of protocol/site.ts SiteSettings. */
  settings: text("settings").notNull().default('{"spa":false}'),
  /** productionDeploymentId: the deployment every up replica serves (set once they all reached it). */
  productionDeploymentId: text("production_deployment_id"),
  /** desiredDeploymentId: what production should be; nodes converge to it. */
  desiredDeploymentId: text("desired_deployment_id"),
  /** generation: grows by one with every change of the desired production; orders activations. */
  generation: integer("generation").notNull().default(0),
  replicas: integer("replicas").notNull().default(1),
  createdAt: text("created_at").notNull(),
}, (t) => [index("sites_owner").on(t.ownerId), index("sites_owner_created").on(t.ownerId, t.createdAt, t.id)]);

export const deployments = sqliteTable("deployments", {
  id: text("id").primaryKey(),
  siteId: text("site_id").notNull().references(() => sites.id, { onDelete: "cascade" }),
  creatorId: text("creator_id").references(() => users.id, { onDelete: "set null" }),
  status: text("status", { enum: ["pending", "uploading", "staged", "ready", "failed"] }).notNull(),
  production: integer("production", { mode: "boolean" }).notNull(),
  manifestDigest: text("manifest_digest").notNull(),
  /**
   * manifest: "" since manifests are stored as shared chunks (deploymentChunks). A row made before
   * that held its JSON array here until the master's first start converted it.
   */
  manifest: text("manifest").notNull(),
  filesTotal: integer("files_total").notNull(),
  bytesTotal: integer("bytes_total").notNull(),
  filesUploaded: integer("files_uploaded").notNull().default(0),
  bytesUploaded: integer("bytes_uploaded").notNull().default(0),
  error: text("error"),
  /** message: what the deploy was for, as its author said (`sprout deploy --message`). */
  message: text("message"),
  /** promotedAt: last time it became production; rollback picks the previous one by this. */
  promotedAt: text("promoted_at"),
  /** requestedAt: last time a promote or rollback asked for it (see DeploymentInfo.superseded). */
  requestedAt: text("requested_at"),
  createdAt: text("created_at").notNull(),
  finishedAt: text("finished_at"),
}, (t) => [
  index("deployments_site").on(t.siteId, t.createdAt),
  // Quota checks count an account's deployments of the last hour; the upload expiry job finds stale ones.
  index("deployments_creator_created").on(t.creatorId, t.createdAt),
  index("deployments_status_created").on(t.status, t.createdAt),
]);

export const deploymentEvents = sqliteTable("deployment_events", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  deploymentId: text("deployment_id").notNull().references(() => deployments.id, { onDelete: "cascade" }),
  agentId: text("agent_id"),
  level: text("level", { enum: ["info", "warn", "error"] }).notNull(),
  message: text("message").notNull(),
  at: text("at").notNull(),
}, (t) => [index("deployment_events_deployment").on(t.deploymentId, t.id)]);

export const agents = sqliteTable("agents", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  tokenHash: text("token_hash").notNull().unique(),
  status: text("status", { enum: ["new", "online", "offline"] }).notNull().default("new"),
  /** url: where CLIs and peers reach the agent API; set by the admin or pinned at the first heartbeat. */
  url: text("url"),
  /** reportedUrl: a URL a heartbeat reported that differs from `url`; not used until the admin accepts it. */
  reportedUrl: text("reported_url"),
  httpUrl: text("http_url"),
  version: text("version"),
  /** system: JSON of protocol/agent.ts SystemReport from the last heartbeat. */
  system: text("system"),
  lastHeartbeatAt: text("last_heartbeat_at"),
  createdAt: text("created_at").notNull(),
  /** role: a node stores and serves sites; a gateway only load-balances visitors to the nodes. */
  role: text("role", { enum: ["node", "gateway"] }).notNull().default("node"),
  /** drainingSince: set by `sprout agents drain`; the node takes no new placements and its sites move. */
  drainingSince: text("draining_since"),
  /** tlsPin: the key pin of the agent API's self-signed certificate (from its heartbeats), or null. */
  tlsPin: text("tls_pin"),
});

/** placements is the shard map: which agents hold which site, and what each has staged. */
export const placements = sqliteTable("placements", {
  siteId: text("site_id").notNull().references(() => sites.id, { onDelete: "cascade" }),
  agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
  /** appliedGeneration: the site generation this node last reported serving. */
  appliedGeneration: integer("applied_generation").notNull().default(0),
  createdAt: text("created_at").notNull(),
}, (t) => [uniqueIndex("placements_pk").on(t.siteId, t.agentId)]);

/** deployment_replicas records, per deployment and agent, how far that node got. */
export const deploymentReplicas = sqliteTable("deployment_replicas", {
  deploymentId: text("deployment_id").notNull().references(() => deployments.id, { onDelete: "cascade" }),
  agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
  state: text("state", { enum: ["pending", "staged", "active", "failed"] }).notNull(),
  updatedAt: text("updated_at").notNull(),
}, (t) => [uniqueIndex("deployment_replicas_pk").on(t.deploymentId, t.agentId)]);

/** tasks: the queue of work for agents, with a lease so an unanswered task is sent again. */
export const tasks = sqliteTable("tasks", {
  id: text("id").primaryKey(),
  agentId: text("agent_id").notNull().references(() => agents.id, { onDelete: "cascade" }),
  kind: text("kind").notNull(),
  /** payload: JSON of protocol/agent.ts Task. */
  payload: text("payload").notNull(),
  status: text("status", { enum: ["pending", "sent", "done", "failed"] }).notNull().default("pending"),
  attempts: integer("attempts").notNull().default(0),
  leaseUntil: text("lease_until"),
  error: text("error"),
  createdAt: text("created_at").notNull(),
  updatedAt: text("updated_at").notNull(),
}, (t) => [index("tasks_agent_status").on(t.agentId, t.status)]);

/**
 * user_quotas holds an admin's per-user overrides of the master's --quota-* defaults; a NULL column
 * means the default applies (services/quotas.ts).
 */
export const userQuotas = sqliteTable("user_quotas", {
  userId: text("user_id").primaryKey().references(() => users.id, { onDelete: "cascade" }),
  sites: integer("sites"),
  deploysPerHour: integer("deploys_per_hour"),
  bytes: integer("bytes"),
  filesPerDeployment: integer("files_per_deployment"),
  updatedAt: text("updated_at").notNull(),
});

/** audit_log: every state-changing request and every failed login: who, what, on what, from where. */
export const auditLog = sqliteTable("audit_log", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  userId: text("user_id"),
  action: text("action").notNull(),
  target: text("target"),
  ip: text("ip"),
  outcome: text("outcome").notNull().default("ok"),
  at: text("at").notNull(),
}, (t) => [index("audit_log_at").on(t.at)]);

/** kv holds the master's own state: the grant key pair, the JWT secret. */
export const kv = sqliteTable("kv", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

/** alerts: the alerts firing now (one row each), so each fires once and resolves once. */
export const alerts = sqliteTable("alerts", {
  key: text("key").primaryKey(),
  kind: text("kind").notNull(),
  subject: text("subject").notNull(),
  message: text("message").notNull(),
  firedAt: text("fired_at").notNull(),
});

/** site_traffic: requests served per site and hour, summed over the nodes' reports. */
export const siteTraffic = sqliteTable("site_traffic", {
  siteId: text("site_id").notNull().references(() => sites.id, { onDelete: "cascade" }),
  hour: text("hour").notNull(),
  requests: integer("requests").notNull().default(0),
  bytes: integer("bytes").notNull().default(0),
  s2xx: integer("s2xx").notNull().default(0),
  s3xx: integer("s3xx").notNull().default(0),
  s4xx: integer("s4xx").notNull().default(0),
  s5xx: integer("s5xx").notNull().default(0),
}, (t) => [uniqueIndex("site_traffic_pk").on(t.siteId, t.hour)]);

/**
 * domains are custom domains of sites. A name may have rows for several sites while a claim is being
 * proven (a TXT record), but only one site's row is ever `active`: a domain belongs to one site.
 */
export const domains = sqliteTable("domains", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  siteId: text("site_id").notNull().references(() => sites.id, { onDelete: "cascade" }),
  ownerId: text("owner_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  /** status: pending (waiting for DNS), active (verified, routed), misconfigured (DNS stopped pointing here). */
  status: text("status", { enum: ["pending", "active", "misconfigured"] }).notNull().default("pending"),
  /** verifyToken: the value of the `_sprout-challenge.<name>` TXT record that proves this claim. */
  verifyToken: text("verify_token").notNull(),
  /** needsTxt: the TXT record is required (another account claims the name, or it is an apex). */
  needsTxt: integer("needs_txt", { mode: "boolean" }).notNull().default(false),
  lastError: text("last_error"),
  checkedAt: text("checked_at"),
  verifiedAt: text("verified_at"),
  createdAt: text("created_at").notNull(),
}, (t) => [uniqueIndex("domains_name_site").on(t.name, t.siteId), index("domains_site").on(t.siteId)]);

/**
 * released_domains: the last account that had each domain verified, written by a trigger when its
 * claim ends (0016_released_domains.sql). Another account must prove such a name by TXT: its DNS may
 * still point at a site name anyone can take once that site is deleted.
 */
export const releasedDomains = sqliteTable("released_domains", {
  name: text("name").primaryKey(),
  ownerId: text("owner_id").notNull(),
  releasedAt: text("released_at").notNull(),
});

/**
 * released_sites: the last account that owned each deleted site's name, written by a trigger
 * (0016_released_domains.sql). A CNAME to that name proves nothing for another account that owns
 * the name now: DNS may still point there (a wildcard, or a domain never verified here).
 */
export const releasedSites = sqliteTable("released_sites", {
  name: text("name").primaryKey(),
  ownerId: text("owner_id").notNull(),
  releasedAt: text("released_at").notNull(),
});

/** certificates: one per domain, issued by ACME; the key is stored in this 0600 database. */
export const certificates = sqliteTable("certificates", {
  domainId: text("domain_id").primaryKey().references(() => domains.id, { onDelete: "cascade" }),
  /** status: pending (being issued), active (a valid certificate), failed (the last try failed; retried with backoff). */
  status: text("status", { enum: ["pending", "active", "failed"] }).notNull().default("pending"),
  certPem: text("cert_pem"),
  keyPem: text("key_pem"),
  expiresAt: text("expires_at"),
  lastError: text("last_error"),
  attempts: integer("attempts").notNull().default(0),
  nextAttemptAt: text("next_attempt_at"),
  updatedAt: text("updated_at").notNull(),
});

/**
 * manifestChunks: each distinct run of manifest entries, stored once whatever the number of
 * deployments listing it (shared/manifest-chunks.ts says where chunks end). Chunks no deployment
 * lists are removed by ManifestStore.collect.
 */
export const manifestChunks = sqliteTable("manifest_chunks", {
  digest: text("digest").primaryKey(),
  /** entries: one `path\tsha256\tsize\n` line per file, in path order. */
  entries: text("entries").notNull(),
  files: integer("files").notNull(),
});

/** deploymentChunks: a deployment's manifest, as its chunks in order. */
export const deploymentChunks = sqliteTable("deployment_chunks", {
  deploymentId: text("deployment_id").notNull().references(() => deployments.id, { onDelete: "cascade" }),
  seq: integer("seq").notNull(),
  digest: text("digest").notNull(),
}, (t) => [primaryKey({ columns: [t.deploymentId, t.seq] }), index("deployment_chunks_digest").on(t.digest)]);
