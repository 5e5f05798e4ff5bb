import { and, desc, eq, isNull, or, sql } from "drizzle-orm";
import type { Db } from "../../db";
import { agents, placements, sites } from "../../db/schema";
import type { AgentCreated, AgentInfo, AgentRole, Heartbeat, HeartbeatAnswer, SystemReport } from "../../protocol/agent";
import { SproutError, badRequest, conflict, notFound } from "../../shared/errors";
import { TOKEN_PREFIX, newId, newSecret, sha256Hex } from "../../shared/ids";
import { logger } from "../../shared/log";
import { now, type MasterConfig } from "../config";
import type { MasterKeys } from "./keys";
import type { TaskQueue } from "./tasks";

const log = logger("agents");
type Row = typeof agents.$inferSelect;

/** PERSIST_MS: how often a node's heartbeat time and measures are written while nothing else changes. */
const PERSIST_MS = 30_000;

/**
 * AgentService registers nodes, takes their heartbeats and tells which are online. A heartbeat that
 * changes nothing but the time and the measures is kept in memory and written at most every 30 s
 * (and when the node goes offline), so a thousand nodes heartbeating cost the master little.
 */
export class AgentService {
  /** live: each node's last heartbeat as taken (time, measures) and when its row was last written. */
  private live = new Map<string, { at: string; system: string; savedAt: number }>();
  /** onBack runs when a node comes (back) online or restarts, so it can catch up (set by DeploymentService). */
  onBack: (agentId: string) => void = () => {};
  /** onDown runs when a node is marked offline, so work waiting for it can go on (set by DeploymentService). */
  onDown: (agentId: string) => void = () => {};
  /** onTraffic takes the request counts a heartbeat carries (set by the master to TrafficService.add). */
  onTraffic: (counts: NonNullable<Heartbeat["traffic"]>) => void = () => {};
  /** onMeasures takes each heartbeat's measures (set by the master to NodeHistory.add, for the UI's sparklines). */
  onMeasures: (agentId: string, system: SystemReport) => void = () => {};

  /** byId is prepared once: every heartbeat runs it. */
  private byId;

  constructor(
    private db: Db,
    private config: MasterConfig,
    private keys: MasterKeys,
    private tasks: TaskQueue,
  ) {
    this.byId = db.select().from(agents).where(eq(agents.id, sql.placeholder("id"))).prepare();
  }

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

  /**
   * rotateToken replaces an agent's token; the old one stops working at once (the running agent
   * stops on its next call and is started again with the new token).
   */
  rotateToken(id: string): AgentCreated {
    const row = this.get(id);
    const token = TOKEN_PREFIX.agent + newSecret(32);
    this.db.update(agents).set({ tokenHash: sha256Hex(token) }).where(eq(agents.id, id)).run();
    this.tasks.wake(id);
    log.info("agent token rotated", { agent: row.name });
    return { id, name: row.name, token };
  }

  /**
   * drain stops placing sites on a node; the healing job copies each site it holds to other nodes
   * (from a node that has it, this one included) until every site has its replica count without it.
   * `sprout agents` shows it "drained" then, and it can be removed. `undo` puts it back in service.
   */
  drain(id: string, undo = false): AgentInfo {
    const row = this.get(id);
    this.db.update(agents).set({ drainingSince: undo ? null : (row.drainingSince ?? now()) }).where(eq(agents.id, id)).run();
    log.info(undo ? "agent back in service" : "agent draining", { agent: row.name });
    return this.info(this.get(id));
  }

  /**
   * remove forgets a node: its token stops working, its placements, replicas and tasks go (rows
   * cascade), and the healing job gives its sites new replicas on the nodes that are up. Refused
   * while it holds the only up-to-date copy of a site, unless `force` (that site is then lost
   * until deployed again).
   */
  remove(id: string, force = false) {
    const row = this.get(id);
    const alone = this.sitesOnlyOn(id);
    if (alone.length && !force)
      throw conflict(
        "only_copy",
        `Node ${row.name} holds the only up-to-date copy of ${alone.length} site(s): ${alone.slice(0, 5).join(", ")}${alone.length > 5 ? ", ..." : ""}.`,
        `Run \`sprout agents drain ${row.name}\`, wait until \`sprout agents\` shows it drained, then remove it (or add --force to drop those copies).`,
      );
    // Deploys waiting for this node go on without it before its rows disappear.
    this.db.update(agents).set({ status: "offline" }).where(eq(agents.id, id)).run();
    this.onDown(id);
    this.db.delete(agents).where(eq(agents.id, id)).run();
    this.tasks.wake(id);
    log.info("agent removed", { agent: row.name, force });
  }

  /**
   * sitesOnlyOn names the sites (with a production) that no other node that is up and not
   * draining serves up to date: removing `id` now would leave them without a copy.
   */
  private sitesOnlyOn(id: string): string[] {
    return this.db
      .all<{ name: string }>(sql`
        SELECT s.name AS name FROM ${placements} p JOIN ${sites} s ON s.id = p.site_id
        WHERE p.agent_id = ${id} AND s.desired_deployment_id IS NOT NULL AND NOT EXISTS (
          SELECT 1 FROM ${placements} q JOIN ${agents} a ON a.id = q.agent_id
          WHERE q.site_id = s.id AND q.agent_id != ${id} AND a.status = 'online' AND a.draining_since IS NULL
            AND q.applied_generation >= s.generation)`)
      .map((r) => r.name);
  }

  /**
   * sitesWaiting counts the sites a draining node holds that do not yet have their replica count
   * (as far as the nodes in service allow) on up-to-date nodes other than it.
   */
  private sitesWaiting(id: string): number {
    const inService = this.placeable().length;
    return this.db.all<{ n: number }>(sql`
      SELECT count(*) AS n FROM ${placements} p JOIN ${sites} s ON s.id = p.site_id
      WHERE p.agent_id = ${id} AND s.desired_deployment_id IS NOT NULL AND (
        SELECT count(*) FROM ${placements} q JOIN ${agents} a ON a.id = q.agent_id
        WHERE q.site_id = s.id AND q.agent_id != ${id} AND a.status = 'online' AND a.draining_since IS NULL
          AND q.applied_generation >= s.generation) < min(s.replicas, ${inService})`)[0]!.n;
  }

  /**
   * heartbeat records a node's status. Its URL is taken only while none is pinned: whoever holds an
   * agent token must not be able to send every tenant's CLI (and upload grant) elsewhere. A different
   * URL is kept as `reported_url`, logged once and shown as a mismatch until the admin accepts it.
   */
  heartbeat(id: string, hb: Heartbeat): HeartbeatAnswer {
    const before = this.row(id);
    // A gateway started as a node (or the reverse) would take sites it cannot serve, or serve none.
    if (hb.role && hb.role !== before.role)
      throw new SproutError(409, "wrong_role", `Agent "${before.name}" is registered as a ${before.role}, but was started with --role ${hb.role}.`, `Start it with --role ${before.role}, or create a ${hb.role} with \`sprout agents create NAME --role ${hb.role}\`.`);
    const reported = trimUrl(hb.url);
    if (unspecifiedHost(reported) && !before.url)
      throw badRequest(
        "unreachable_url",
        `Agent ${before.name} says it is reached at ${reported}, an address no other machine can use.`,
        "Start the agent with --public-url (SPROUT_AGENT_URL) set to the address CLIs and other nodes reach it at, e.g. --public-url http://10.0.0.2:7070.",
      );
    const url = before.url ?? reported;
    const reportedUrl = reported === url ? null : reported;
    if (reportedUrl && reportedUrl !== before.reportedUrl)
      log.warn("agent reports another URL than its pinned one; not adopted", { agent: before.name, url, reported: reportedUrl, fix: `sprout agents set-url ${before.name} URL` });
    const at = now();
    const system = JSON.stringify(hb.system);
    const seen = this.live.get(id);
    // The API's certificate pin comes with the token-authenticated heartbeat (over the master's own
    // HTTPS): a node whose self-signed certificate was remade is reached again at its next heartbeat.
    const tlsPin = hb.tls_pin ?? null;
    if (tlsPin !== before.tlsPin && before.tlsPin) log.warn("agent presents a new certificate pin", { agent: before.name, pin: tlsPin });
    const same = before.status === "online" && before.url === url && before.reportedUrl === reportedUrl && before.httpUrl === hb.http_url && before.version === hb.version && before.tlsPin === tlsPin;
    if (same && !hb.boot && seen && Date.now() - seen.savedAt < PERSIST_MS) {
      seen.at = at;
      seen.system = system;
    } else {
      this.db.update(agents).set({ status: "online", url, reportedUrl, httpUrl: hb.http_url, version: hb.version, system, lastHeartbeatAt: at, tlsPin }).where(eq(agents.id, id)).run();
      this.live.set(id, { at, system, savedAt: Date.now() });
    }
    if (before.status !== "online") log.info("agent online", { agent: before.name, url: hb.url });
    // A node that was away or restarted may have missed changes: bring it to the recorded state.
    if (before.status !== "online" || hb.boot) this.onBack(id);
    if (hb.traffic?.length) this.onTraffic(hb.traffic);
    this.onMeasures(id, hb.system);
    return { agent_id: id, domain: this.config.domain, grant_public_key: this.keys.grant.publicJwk, role: before.role };
  }

  /** markStale sets agents offline after `offlineAfter` seconds without a heartbeat. */
  markStale() {
    const limit = new Date(Date.now() - this.config.offlineAfter * 1000).toISOString();
    // Nodes and gateways alike.
    const up = this.db.select().from(agents).where(eq(agents.status, "online")).all().map((r) => this.withLive(r));
    for (const a of up) {
      if ((a.lastHeartbeatAt ?? "") < limit) {
        // The last heartbeat's time and measures are written now: healing reads them from the row.
        this.db.update(agents).set({ status: "offline", lastHeartbeatAt: a.lastHeartbeatAt, system: a.system }).where(eq(agents.id, a.id)).run();
        this.live.delete(a.id);
        log.warn("agent offline: no heartbeat", { agent: a.name });
        this.onDown(a.id);
      }
    }
  }

  get(id: string): Row {
    return this.withLive(this.row(id));
  }

  /** row is the agent's row as stored (its heartbeat time may be up to 30 s old: see `live`). */
  private row(id: string): Row {
    const row = this.byId.get({ id });
    if (!row) throw notFound("Agent");
    return row;
  }

  /** withLive answers the row with its last heartbeat's time and measures. */
  private withLive(r: Row): Row {
    const l = this.live.get(r.id);
    return l && r.status === "online" ? { ...r, lastHeartbeatAt: l.at, system: l.system } : r;
  }

  /** online lists the nodes (not gateways) that are up: the ones that may hold sites. */
  online(): Row[] {
    return this.db.select().from(agents).where(and(eq(agents.status, "online"), eq(agents.role, "node"))).all().map((r) => this.withLive(r));
  }

  /** placeable answers the nodes that are up and not draining: where sites may be placed. */
  placeable(): Row[] {
    return this.db.select().from(agents).where(and(eq(agents.status, "online"), eq(agents.role, "node"), isNull(agents.drainingSince))).all().map((r) => this.withLive(r));
  }

  /** gateways lists the gateways that are up. */
  gateways(): Row[] {
    return this.db.select().from(agents).where(and(eq(agents.status, "online"), eq(agents.role, "gateway"))).orderBy(agents.name).all().map((r) => this.withLive(r));
  }

  list(): AgentInfo[] {
    return this.db.select().from(agents).orderBy(desc(agents.createdAt)).all().map((r) => this.info(this.withLive(r)));
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
      tls_pin: r.tlsPin,
      version: r.version,
      connected: this.tasks.connected(r.id),
      last_heartbeat_at: r.lastHeartbeatAt,
      system: r.system ? (JSON.parse(r.system) as SystemReport) : null,
      created_at: r.createdAt,
      draining: r.drainingSince !== null,
      sites: this.db.select({ n: sql<number>`count(*)` }).from(placements).where(eq(placements.agentId, r.id)).get()!.n,
      sites_waiting: r.drainingSince !== null ? this.sitesWaiting(r.id) : 0,
    };
  }
}

/** unspecifiedHost tells whether a URL names 0.0.0.0 or [::]: a listening address, not a reachable one. */
function unspecifiedHost(url: string): boolean {
  try {
    const h = new URL(url).hostname;
    return h === "0.0.0.0" || h === "[::]" || h === "::";
  } catch {
    return false;
  }
}

/** trimUrl drops trailing slashes, so one URL has one spelling. */
function trimUrl(url: string): string {
  return url.replace(/\/+$/, "");
}
