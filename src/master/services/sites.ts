import { and, desc, eq, inArray, lt, or, sql } from "drizzle-orm";
import type { Db } from "../../db";
import { agents, placements, sites } from "../../db/schema";
import type { SiteInfo, SiteSettings } from "../../protocol/site";
import { badRequest, conflict, notFound } from "../../shared/errors";
import { productionHost } from "../../shared/hosts";
import { newId } from "../../shared/ids";
import { isReservedSiteName } from "../../shared/reserved-names";
import { now, type MasterConfig } from "../config";
import type { QuotaService } from "./quotas";
import type { TaskQueue } from "./tasks";

export type SiteRow = typeof sites.$inferSelect;

/** DEFAULT_REPLICAS: a new site lives on two nodes (on one while only one is up). */
export const DEFAULT_REPLICAS = 2;

/**
 * SiteService owns sites and their placements (the shard map). Every lookup is by owner: another
 * user's site is "not found", never "forbidden", so names of others' sites do not leak.
 */
export class SiteService {
  constructor(
    private db: Db,
    private config: MasterConfig,
    private tasks: TaskQueue,
    private quotas: QuotaService,
  ) {
    // The list route's queries, prepared once: building them per request cost more than running them.
    const owner = eq(sites.ownerId, sql.placeholder("owner"));
    this.ownedByName = db.select().from(sites).where(and(eq(sites.name, sql.placeholder("name")), owner)).prepare();
    const newest = [desc(sites.createdAt), desc(sites.id)] as const;
    this.firstPage = db.select().from(sites).where(owner).orderBy(...newest).limit(sql.placeholder("limit")).prepare();
    this.nextPage = db
      .select()
      .from(sites)
      .where(and(owner, or(lt(sites.createdAt, sql.placeholder("at")), and(eq(sites.createdAt, sql.placeholder("at")), lt(sites.id, sql.placeholder("id"))))))
      .orderBy(...newest)
      .limit(sql.placeholder("limit"))
      .prepare();
    this.onlineGateway = db.select({ httpUrl: agents.httpUrl }).from(agents).where(and(eq(agents.role, "gateway"), eq(agents.status, "online"))).orderBy(agents.name).limit(1).prepare();
    this.placementsOf = db
      .select({ siteId: placements.siteId, name: agents.name, status: agents.status, applied: placements.appliedGeneration, httpUrl: agents.httpUrl })
      .from(placements)
      .innerJoin(agents, eq(agents.id, placements.agentId))
      .where(sql`${placements.siteId} IN (SELECT value FROM json_each(${sql.placeholder("ids")}))`)
      .prepare();
  }

  private ownedByName;
  private firstPage;
  private nextPage;
  private onlineGateway;
  private placementsOf;

  /** create makes a site for `ownerId`, within the account's sites quota. */
  create(ownerId: string, name: string, settings: Partial<SiteSettings> = {}, replicas = DEFAULT_REPLICAS): SiteRow {
    if (isReservedSiteName(name))
      throw badRequest("site_name_reserved", `The site name "${name}" is reserved for the platform.`, "Pick another name with --site.");
    if (this.db.select({ id: sites.id }).from(sites).where(eq(sites.name, name)).get())
      throw conflict("site_taken", `The site name "${name}" is taken.`, "Pick another name with --site.");
    this.quotas.checkNewSite(ownerId);
    const row: SiteRow = {
      id: newId(),
      name,
      ownerId,
      settings: JSON.stringify({ spa: settings.spa ?? false } satisfies SiteSettings),
      productionDeploymentId: null,
      desiredDeploymentId: null,
      generation: 0,
      replicas,
      createdAt: now(),
    };
    this.db.insert(sites).values(row).run();
    return row;
  }

  /** owned finds the caller's site by name or throws 404. */
  owned(ownerId: string, name: string): SiteRow {
    const row = this.ownedByName.get({ name, owner: ownerId });
    if (!row) throw notFound(`Site "${name}"`, "List your sites with `sprout sites`.");
    return row;
  }

  /** find answers the caller's site by name, or undefined; `taken` tells if someone else has the name. */
  find(ownerId: string, name: string): { site?: SiteRow; taken: boolean } {
    const row = this.db.select().from(sites).where(eq(sites.name, name)).get();
    if (!row) return { taken: false };
    return row.ownerId === ownerId ? { site: row, taken: false } : { taken: true };
  }

  /**
   * page answers up to `limit` of the account's sites, newest first, after `cursor` (from the page
   * before), and the cursor of the next page or null. One index range scan, whatever the account's
   * number of sites (keyset pagination: no OFFSET that reads every row before the page).
   */
  page(ownerId: string, limit: number, cursor?: string): { rows: SiteRow[]; next: string | null } {
    let after: { at: string; id: string } | null = null;
    if (cursor) {
      const [at, id] = Buffer.from(cursor, "base64url").toString().split("\n");
      if (!at || !id) throw badRequest("bad_cursor", "This page cursor is not one the master gave.", "Start again without `cursor`, then follow each answer's X-Next-Cursor.");
      after = { at, id };
    }
    const rows = after ? this.nextPage.all({ owner: ownerId, at: after.at, id: after.id, limit: limit + 1 }) : this.firstPage.all({ owner: ownerId, limit: limit + 1 });
    const more = rows.length > limit;
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    return { rows, next: more && last ? Buffer.from(`${last.createdAt}\n${last.id}`).toString("base64url") : null };
  }

  list(ownerId: string): SiteRow[] {
    return this.db.select().from(sites).where(eq(sites.ownerId, ownerId)).orderBy(desc(sites.createdAt)).all();
  }

  update(ownerId: string, name: string, change: Partial<SiteSettings> & { replicas?: number }): SiteRow {
    const site = this.owned(ownerId, name);
    const { replicas, ...rest } = change;
    const settings: SiteSettings = { ...this.settings(site), ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
    const updated = { ...site, settings: JSON.stringify(settings), replicas: replicas ?? site.replicas };
    this.db.update(sites).set({ settings: updated.settings, replicas: updated.replicas }).where(eq(sites.id, site.id)).run();
    // A higher count is met by the healing job within seconds (it copies from a node that has it).
    if (updated.settings !== site.settings) this.syncToAgents(updated);
    return updated;
  }

  /** syncToAgents sends a site's settings and production deployment to every node that holds it. */
  syncToAgents(site: SiteRow) {
    for (const agentId of this.placementAgents(site.id))
      this.tasks.enqueue(agentId, { kind: "sync_site", site: site.name, settings: this.settings(site), production_deployment_id: site.productionDeploymentId });
  }

  /** onRemoved runs after a site's rows are deleted (the master drops manifest chunks no longer listed). */
  onRemoved: () => void = () => {};

  /** remove deletes a site everywhere: its nodes drop its files, the master its rows. */
  remove(ownerId: string, name: string) {
    const site = this.owned(ownerId, name);
    for (const agentId of this.placementAgents(site.id)) this.tasks.enqueue(agentId, { kind: "delete_site", site: site.name });
    this.db.delete(sites).where(eq(sites.id, site.id)).run();
    this.onRemoved();
  }

  settings(site: SiteRow): SiteSettings {
    return JSON.parse(site.settings) as SiteSettings;
  }

  placementAgents(siteId: string): string[] {
    return this.db.select({ a: placements.agentId }).from(placements).where(eq(placements.siteId, siteId)).all().map((r) => r.a);
  }

  /** place records that `agentIds` hold the site (idempotent); answers how many placements are new. */
  place(siteId: string, agentIds: string[]): number {
    const held = new Set(this.placementAgents(siteId));
    const added = agentIds.filter((a) => !held.has(a));
    for (const agentId of added) this.db.insert(placements).values({ siteId, agentId, createdAt: now() }).onConflictDoNothing().run();
    return added.length;
  }

  /** servingBase is `http://<host>[:port]` as visitors reach the site through one of its nodes. */
  servingUrl(siteId: string, host: string): string {
    // With a gateway up, visitors go through it (any one: they are alike).
    const gateway = this.db.select({ httpUrl: agents.httpUrl }).from(agents).where(and(eq(agents.role, "gateway"), eq(agents.status, "online"))).orderBy(agents.name).get();
    if (gateway?.httpUrl) return hostUrl(host, gateway.httpUrl);
    const ids = this.placementAgents(siteId);
    // A node that is up, not the first one ever placed: a URL on a dead node helps nobody.
    const agent = ids.length
      ? this.db.select({ httpUrl: agents.httpUrl }).from(agents).where(inArray(agents.id, ids)).orderBy(sql`${agents.status} = 'online' DESC`).get()
      : undefined;
    return hostUrl(host, agent?.httpUrl ?? null);
  }

  /**
   * infos answers SiteInfo for many sites with two queries in all (the gateway, the placements
   * with their nodes), not four per site: a page of 1,000 sites costs as much as one of ten.
   */
  infos(rows: SiteRow[]): SiteInfo[] {
    if (!rows.length) return [];
    const gateway = this.onlineGateway.get();
    const held = this.placementsOf.all({ ids: JSON.stringify(rows.map((r) => r.id)) });
    const bySite = new Map<string, typeof held>();
    for (const h of held) bySite.set(h.siteId, [...(bySite.get(h.siteId) ?? []), h]);
    return rows.map((site) => {
      const nodes = bySite.get(site.id) ?? [];
      // As servingUrl: through a gateway when one is up, else a node that is up.
      const serving = gateway?.httpUrl ?? (nodes.find((n) => n.status === "online") ?? nodes[0])?.httpUrl ?? null;
      return {
        id: site.id,
        name: site.name,
        url: hostUrl(productionHost(site.name, this.config.domain), serving),
        settings: this.settings(site),
        production_deployment_id: site.productionDeploymentId,
        replicas: site.replicas,
        nodes: nodes.map((n) => ({ name: n.name, status: n.status, up_to_date: n.applied >= site.generation })),
        created_at: site.createdAt,
      };
    });
  }

  info(site: SiteRow): SiteInfo {
    return this.infos([site])[0]!;
  }
}

/** hostUrl puts a site host on the scheme and port its node's nginx serves (no port for 80/443). */
export function hostUrl(host: string, httpUrl: string | null): string {
  if (!httpUrl) return `http://${host}`;
  try {
    const u = new URL(httpUrl);
    return `${u.protocol}//${host}${u.port ? `:${u.port}` : ""}`;
  } catch {
    return `http://${host}`;
  }
}
