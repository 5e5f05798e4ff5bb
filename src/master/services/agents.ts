import { desc, eq } from "drizzle-orm";
import type { Db } from "../../db";
import { agents } from "../../db/schema";
import type { AgentCreated, AgentInfo, Heartbeat, HeartbeatAnswer, SystemReport } from "../../protocol/agent";
import { conflict, notFound } from "../../shared/errors";
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

  constructor(
    private db: Db,
    private config: MasterConfig,
    private keys: MasterKeys,
    private tasks: TaskQueue,
  ) {}

  create(name: string): AgentCreated {
    if (this.db.select({ id: agents.id }).from(agents).where(eq(agents.name, name)).get())
      throw conflict("agent_exists", `An agent named "${name}" already exists.`, "Pick another name, or rotate its token.");
    const token = TOKEN_PREFIX.agent + newSecret(32);
    const id = newId();
    this.db.insert(agents).values({ id, name, tokenHash: sha256Hex(token), createdAt: now() }).run();
    return { id, name, token };
  }

  /** rotateToken replaces an agent's token; the old one stops working at once. */
  rotateToken(id: string): AgentCreated {
    const row = this.get(id);
    const token = TOKEN_PREFIX.agent + newSecret(32);
    this.db.update(agents).set({ tokenHash: sha256Hex(token) }).where(eq(agents.id, id)).run();
    return { id, name: row.name, token };
  }

  heartbeat(id: string, hb: Heartbeat): HeartbeatAnswer {
    const before = this.get(id);
    this.db
      .update(agents)
      .set({ status: "online", url: hb.url, httpUrl: hb.http_url, version: hb.version, system: JSON.stringify(hb.system), lastHeartbeatAt: now() })
      .where(eq(agents.id, id))
      .run();
    if (before.status !== "online") log.info("agent online", { agent: before.name, url: hb.url });
    // A node that was away or restarted may have missed changes: bring it to the recorded state.
    if (before.status !== "online" || hb.boot) this.onBack(id);
    return { agent_id: id, domain: this.config.domain, grant_public_key: this.keys.grant.publicJwk };
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

  online(): Row[] {
    return this.db.select().from(agents).where(eq(agents.status, "online")).all();
  }

  list(): AgentInfo[] {
    return this.db.select().from(agents).orderBy(desc(agents.createdAt)).all().map((r) => this.info(r));
  }

  info(r: Row): AgentInfo {
    return {
      id: r.id,
      name: r.name,
      status: r.status,
      url: r.url,
      http_url: r.httpUrl,
      version: r.version,
      connected: this.tasks.connected(r.id),
      last_heartbeat_at: r.lastHeartbeatAt,
      system: r.system ? (JSON.parse(r.system) as SystemReport) : null,
      created_at: r.createdAt,
    };
  }
}
