import { t } from "elysia";
import { Id, SiteName } from "./common";
import { Manifest } from "./deployment";
import { SiteSettings } from "./site";
import { PIN_PATTERN } from "../shared/tls";

/** TlsPin is a certificate key pin, `sha256//<base64>` (curl's --pinnedpubkey form). */
export const TlsPin = t.String({ pattern: PIN_PATTERN, error: "pin: sha256//<base64 of the key's SHA-256>" });

/** AgentCreate is POST /api/agent (admin): registers a node and answers its token once. */
/** AgentUrl is an agent API's base URL, as the admin sets it. */
export const AgentUrl = t.String({ pattern: "^https?://[^\\s/?#]+(/[^\\s?#]*)?$", maxLength: 300, error: "url: an http:// or https:// URL without query or fragment" });

/** AgentRole: what an agent is for. Set when it is created; the agent must be started with the same --role. */
export const AgentRole = t.Union([t.Literal("node"), t.Literal("gateway")]);
export type AgentRole = typeof AgentRole.static;

export const AgentCreate = t.Object({
  name: t.String({ pattern: "^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$", error: "agent name: letters, digits, . _ - (max 63)" }),
  /** url: where CLIs and peers reach the agent API. Unset, the agent's first heartbeat sets it (once). */
  url: t.Optional(AgentUrl),
  /** role: "node" (default) stores and serves sites; "gateway" load-balances visitors to the nodes. */
  role: t.Optional(AgentRole),
});
export type AgentCreate = typeof AgentCreate.static;

/** AgentSetUrl is POST /api/agent/:id/url (admin): the agent's reachable URL, e.g. accepting the one it reports. */
export const AgentSetUrl = t.Object({ url: AgentUrl });
export type AgentSetUrl = typeof AgentSetUrl.static;

/** AgentDrain is POST /api/agent/:id/drain (admin). */
export const AgentDrain = t.Object({
  /** undo: put a draining node back in service. */
  undo: t.Optional(t.Boolean()),
});
export type AgentDrain = typeof AgentDrain.static;

/** AgentCreated answers POST /api/agent and POST /api/:agent_id/token: the token is shown once. */
export const AgentCreated = t.Object({ id: Id, name: t.String(), token: t.String() });
export type AgentCreated = typeof AgentCreated.static;

/** SystemReport is what an agent measures about its node at each heartbeat. */
export const SystemReport = t.Object({
  cpu_percent: t.Number(),
  cpus: t.Integer(),
  load: t.Array(t.Number()),
  mem_total: t.Number(),
  mem_free: t.Number(),
  disk_total: t.Number(),
  disk_free: t.Number(),
  /** nginx: "failed" when it exits as soon as it starts (a port taken, a broken config): see the agent's log. */
  nginx: t.Union([t.Literal("running"), t.Literal("stopped"), t.Literal("restarting"), t.Literal("failed"), t.Literal("external")]),
  nginx_reloads: t.Integer(),
  uptime: t.Number(),
  sites: t.Integer(),
});
export type SystemReport = typeof SystemReport.static;

/** TrafficCounts is what a node served for one site in one hour (from its nginx access log). */
export const TrafficCounts = t.Object({
  site: t.String({ maxLength: 63 }),
  /** hour: ISO time of the hour's start, e.g. 2026-11-26T14:00:00Z. */
  hour: t.String({ pattern: "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:00:00Z$" }),
  requests: t.Integer({ minimum: 0 }),
  bytes: t.Number({ minimum: 0 }),
  s2xx: t.Integer({ minimum: 0 }),
  s3xx: t.Integer({ minimum: 0 }),
  s4xx: t.Integer({ minimum: 0 }),
  s5xx: t.Integer({ minimum: 0 }),
});
export type TrafficCounts = typeof TrafficCounts.static;

/**
 * Heartbeat is POST /api/agent/heartbeat (agent token) every few seconds. The first one registers the
 * node's URL when the admin set none; later ones cannot move it (a change waits for the admin).
 */
export const Heartbeat = t.Object({
  version: t.String(),
  /** url: where the master and CLIs reach this agent's API. */
  url: t.String(),
  /** http_url: where this node's nginx serves sites. */
  http_url: t.String(),
  /** tls_pin: the pin of the agent API's self-signed certificate, when it serves HTTPS with one. */
  tls_pin: t.Optional(TlsPin),
  system: SystemReport,
  /** boot: the first heartbeat since the agent started (the master then re-checks what it should hold). */
  boot: t.Optional(t.Boolean()),
  /** traffic: requests counted since the last acknowledged heartbeat, per site and hour. */
  traffic: t.Optional(t.Array(TrafficCounts, { maxItems: 20_000 })),
  /** role: what the agent was started as (--role); the master refuses one that differs from the registered role. */
  role: t.Optional(AgentRole),
  /** arch: the node's architecture (x64, arm64): which binary an upgrade needs. */
  arch: t.Optional(t.String({ maxLength: 20 })),
  /** upgrade_error: why the last upgrade the master ordered failed on this node (the rollout stops on it). */
  upgrade_error: t.Optional(t.String({ maxLength: 1000 })),
});
export type Heartbeat = typeof Heartbeat.static;

/**
 * UpgradeOrder tells an agent, in a heartbeat's answer, to replace its binary with the master's and
 * restart: it fetches `path` from the master, checks `sha256`, and comes back reporting `version`.
 */
export const UpgradeOrder = t.Object({
  version: t.String(),
  sha256: t.String({ pattern: "^[0-9a-f]{64}$" }),
  /** path on the master, e.g. /download/sprout-linux-x64 */
  path: t.String(),
});
export type UpgradeOrder = typeof UpgradeOrder.static;

/** HeartbeatAnswer gives the agent what it needs to work without asking again. */
export const HeartbeatAnswer = t.Object({
  agent_id: Id,
  /** domain: the platform domain; sites are served at <site>.<domain>. */
  domain: t.String(),
  /** grant_public_key: the master's Ed25519 public key (JWK JSON) that signs upload grants. */
  grant_public_key: t.String(),
  /** role: what the master registered this agent as. */
  role: t.Optional(AgentRole),
  /** upgrade: present while a rolling upgrade waits for this agent (see UpgradeOrder). */
  upgrade: t.Optional(UpgradeOrder),
});
export type HeartbeatAnswer = typeof HeartbeatAnswer.static;

/** AgentInfo is GET /api/agent/:id and the rows of GET /api/agents. */
export const AgentInfo = t.Object({
  id: Id,
  name: t.String(),
  role: AgentRole,
  status: t.Union([t.Literal("new"), t.Literal("online"), t.Literal("offline")]),
  url: t.Union([t.String(), t.Null()]),
  /** url_mismatch: the agent's heartbeats report another URL (`reported_url`) than the pinned `url`. */
  url_mismatch: t.Boolean(),
  reported_url: t.Union([t.String(), t.Null()]),
  http_url: t.Union([t.String(), t.Null()]),
  /** tls_pin: the pin of the agent API's self-signed certificate, or null. */
  tls_pin: t.Union([t.String(), t.Null()]),
  version: t.Union([t.String(), t.Null()]),
  connected: t.Boolean(),
  last_heartbeat_at: t.Union([t.String(), t.Null()]),
  /** system: the last heartbeat's measures; stale when `status` is not online (see last_heartbeat_at). */
  system: t.Union([SystemReport, t.Null()]),
  created_at: t.String(),
  /** draining: `sprout agents drain` was run; the node takes no new sites. */
  draining: t.Boolean(),
  /** sites: how many sites the node holds. */
  sites: t.Integer(),
  /** sites_waiting: of a draining node's sites, how many still lack their replica count elsewhere (0: drained). */
  sites_waiting: t.Integer(),
});
export type AgentInfo = typeof AgentInfo.static;

/**
 * Task is a unit of work the master gives an agent. The agent long-polls GET /api/agent/tasks, which
 * answers at once when a task is queued (so tasks arrive immediately, not at the next heartbeat).
 * Applying a task twice does no harm. The agent answers each with POST /api/agent/tasks/:id/result.
 */
export const Task = t.Union([
  t.Object({
    kind: t.Literal("activate"),
    site: SiteName,
    deployment_id: Id,
    /**
     * generation of the site's desired state this activation belongs to. A node applies it only if
     * it is newer than what it serves, so a re-sent or late task never moves a node backwards.
     */
    generation: t.Integer({ minimum: 1 }),
  }),
  t.Object({
    /** stage: replicate a deployment staged elsewhere; fetch missing blobs from `peers`. */
    kind: t.Literal("stage"),
    site: SiteName,
    deployment_id: Id,
    manifest: Manifest,
    peers: t.Array(t.String()),
    /** peer_pins: the certificate pin of each of `peers` (same order), null where it has none. */
    peer_pins: t.Optional(t.Array(t.Union([TlsPin, t.Null()]))),
    /** production: activation follows; staging then only checks the rules it will bring. */
    production: t.Boolean(),
    /** owner: the site's account; the node records that it holds the deployment's blobs. */
    owner: Id,
    /** peer_token: the master's permission to fetch the account's blobs from `peers` (GET /api/blob/:sha). */
    peer_token: t.String(),
  }),
  t.Object({ kind: t.Literal("sync_site"), site: SiteName, settings: SiteSettings, production_deployment_id: t.Union([Id, t.Null()]) }),
  t.Object({ kind: t.Literal("delete_site"), site: SiteName }),
  t.Object({ kind: t.Literal("gc") }),
]);
export type Task = typeof Task.static;

/** TaskEnvelope is one queued task as GET /api/agent/tasks answers it (an array of them). */
export const TaskEnvelope = t.Object({ id: Id, task: Task });
export type TaskEnvelope = typeof TaskEnvelope.static;

/** TaskResult is POST /api/agent/tasks/:id/result: how applying the task went. */
export const TaskResult = t.Object({
  ok: t.Boolean(),
  error: t.Optional(t.String({ maxLength: 4000 })),
});
export type TaskResult = typeof TaskResult.static;

/**
 * AgentLiveness is GET /api/heartbeat on the agent without credentials: that it runs, nothing more
 * (the node's load, disk and sites are no business of the open internet).
 */
export const AgentLiveness = t.Object({ ok: t.Literal(true), version: t.String() });
export type AgentLiveness = typeof AgentLiveness.static;

/**
 * AgentStatus is GET /api/heartbeat on the agent with `Authorization: Bearer` the agent's own token
 * or a status token the master signed for it: its full status.
 */
export const AgentStatus = t.Object({
  name: t.String(),
  agent_id: t.Union([Id, t.Null()]),
  version: t.String(),
  master_connected: t.Boolean(),
  system: SystemReport,
});
export type AgentStatus = typeof AgentStatus.static;
