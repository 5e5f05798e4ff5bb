import { and, desc, eq, or } from "drizzle-orm";
import type { Db } from "../../db";
import { agents } from "../../db/schema";
import type { AgentCreated, AgentInfo, AgentRole, Heartbeat, HeartbeatAnswer, SystemReport } from "../../protocol/agent";
import { SproutError, conflict, notFound } from "../../shared/errors";
import { TOKEN_PREFIX, newId, newSecret, sha256Hex } from "../../shared/ids";
import { logger } from "../../shared/log";
import { now, type MasterConfig } from "../config";
import type { MasterKeys } from "./keys";
import type { TaskQueue } from "./tasks";

const log = logger("agents");
type Row = typeof agents.$inferSelect;

/** AgentService registers nodes, takes their heartbeats and tells which are online. */
export class AgentService {
  /** onBack runs when a node comes (back) online or restarts, so it can catch up (set by DeploymentService). */
  onBack: (agentId: string) => void = () => {};
  /** onDown runs when a node is marked offline, so work waiting for it can go on (set by DeploymentService). */
  onDown: (agentId: string) => void = () => {};
  /** onTraffic takes the request counts a heartbeat carries (set by the master to TrafficService.add). */
  onTraffic: (counts: NonNullable<Heartbeat["traffic"]>) => void = () => {};

  constructor(
    private db: Db,
    private config: MasterConfig,
    private keys: MasterKeys,
    private tasks: TaskQueue,
  ) {}

  /** create registers a node; `url`, when given, is where CLIs and peers reach it (else its first heartbeat says). */
  create(name: string, url?: string, role: AgentRole = "node"): AgentCreated {
    if (this.db.select({ id: agents.id }).from(agents).where(eq(agents.name, name)).get())
      throw conflict("agent_exists", `An agent named "${name}" already exists.`, "Pick another name, or rotate its token.");
    const token = TOKEN_PREFIX.agent + newSecret(32);
    const id = newId();
    this.db.insert(agents).values({ id, name, tokenHash: sha256Hex(token), url: url ? trimUrl(url) : null, createdAt: now(), role }).run();
    return { id, name, token };
  }

  /**
   * setUrl is the admin's word on where an agent is reached (accepting the URL it reports, or
   * another); tenants' CLIs and grants go there from now on.
   */
  setUrl(id: string, url: string): AgentInfo {
    const row = this.get(id);
    const next = trimUrl(url);
    this.db.update(agents).set({ url: next, reportedUrl: null }).where(eq(agents.id, id)).run();
    log.info("agent URL set by the admin", { agent: row.name, from: row.url, to: next });
    return this.info(this.get(id));
  }

  /** byName finds an agent by its name (or id). */
  byName(nameOrId: string): Row {
    const row = this.db.select().from(agents).where(or(eq(agents.name, nameOrId), eq(agents.id, nameOrId))).get();
    if (!row) throw notFound(`Agent "${nameOrId}"`);
    return row;
  }

  /** rotateToken replaces an agent's token; the old one stops working at once. */
  rotateToken(id: string): AgentCreated {
    const row = this.get(id);
    const token = TOKEN_PREFIX.agent + newSecret(32);
    this.db.update(agents).set({ tokenHash: sha256Hex(token) }).where(eq(agents.id, id)).run();
    return { id, name: row.name, token };
  }

  /**
   * heartbeat records a node's status. Its URL is taken only while none is pinned: whoever holds an
   * agent token must not be able to send every tenant's CLI (and upload grant) elsewhere. A different
   * URL is kept as `reported_url`, logged once and shown as a mismatch until the admin accepts it.
   */
  heartbeat(id: string, hb: Heartbeat): HeartbeatAnswer {
    const before = this.get(id);
    // A gateway started as a node (or the reverse) would take sites it cannot serve, or serve none.
    if (hb.role && hb.role !== before.role)
      throw new SproutError(409, "wrong_role", `Agent "${before.name}" is registered as a ${before.role}, but was started with --role ${hb.role}.`, `Start it with --role ${before.role}, or create a ${hb.role} with \`sprout agents create NAME --role ${hb.role}\`.`);
    const reported = trimUrl(hb.url);
    const url = before.url ?? reported;
    const reportedUrl = reported === url ? null : reported;
    if (reportedUrl && reportedUrl !== before.reportedUrl)
      log.warn("agent reports another URL than its pinned one; not adopted", { agent: before.name, url, reported: reportedUrl, fix: `sprout agents set-url ${before.name} URL` });
    this.db
      .update(agents)
      .set({ status: "online", url, reportedUrl, httpUrl: hb.http_url, version: hb.version, system: JSON.stringify(hb.system), lastHeartbeatAt: now() })
      .where(eq(agents.id, id))
      .run();
    if (before.status !== "online") log.info("agent online", { agent: before.name, url: hb.url });
    // A node that was away or restarted may have missed changes: bring it to the recorded state.
    if (before.status !== "online" || hb.boot) this.onBack(id);
    if (hb.traffic?.length) this.onTraffic(hb.traffic);
    return { agent_id: id, domain: this.config.domain, grant_public_key: this.keys.grant.publicJwk, role: before.role };
  }

  /** markStale sets agents offline after `offlineAfter` seconds without a heartbeat. */
  markStale() {
    const limit = new Date(Date.now() - this.config.offlineAfter * 1000).toISOString();
    for (const a of this.db.select().from(agents).where(eq(agents.status, "online")).all()) {
      if ((a.lastHeartbeatAt ?? "") < limit) {
        this.db.update(agents).set({ status: "offline" }).where(eq(agents.id, a.id)).run();
        log.warn("agent offline: no heartbeat", { agent: a.name });
        this.onDown(a.id);
      }
    }
  }

  get(id: string): Row {
    const row = this.db.select().from(agents).where(eq(agents.id, id)).get();
    if (!row) throw notFound("Agent");
    return row;
  }

  /** online lists the nodes (not gateways) that are up: the ones that may hold sites. */
  online(): Row[] {
    return this.db.select().from(agents).where(and(eq(agents.status, "online"), eq(agents.role, "node"))).all();
  }

  /** gateways lists the gateways that are up. */
  gateways(): Row[] {
    return this.db.select().from(agents).where(and(eq(agents.status, "online"), eq(agents.role, "gateway"))).orderBy(agents.name).all();
  }

  list(): AgentInfo[] {
    return this.db.select().from(agents).orderBy(desc(agents.createdAt)).all().map((r) => this.info(r));
  }

  info(r: Row): AgentInfo {
    return {
      id: r.id,
      name: r.name,
      role: r.role,
      status: r.status,
      url: r.url,
      url_mismatch: r.reportedUrl !== null && r.reportedUrl !== r.url,
      reported_url: r.reportedUrl,
      http_url: r.httpUrl,
      version: r.version,
      connected: this.tasks.connected(r.id),
      last_heartbeat_at: r.lastHeartbeatAt,
      system: r.system ? (JSON.parse(r.system) as SystemReport) : null,
      created_at: r.createdAt,
    };
  }
}

/** trimUrl drops trailing slashes, so one URL has one spelling. */
function trimUrl(url: string): string {
  return url.replace(/\/+$/, "");
}
