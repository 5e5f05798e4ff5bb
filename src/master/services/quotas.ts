import type { Statement } from "bun:sqlite";
import { and, count, eq, gt } from "drizzle-orm";
import type { Db } from "../../db";
import { deployments, domains, sites, userQuotas, users } from "../../db/schema";
import type { QuotaInfo, QuotaUpdate } from "../../protocol/quota";
import { SproutError, notFound } from "../../shared/errors";
import { now, type MasterConfig } from "../config";

/**
 * KEPT_PER_SITE is how many of a site's newest deployments the master counts as kept on nodes: an
 * agent's default `--retain` (20) plus production and the one before it. Older ones are collected by
 * the nodes, so they stop counting against the bytes quota. Production counts wherever it is.
 */
export const KEPT_PER_SITE = 22;

const HOUR_MS = 3600_000;

type Override = typeof userQuotas.$inferSelect;

/**
 * QuotaService bounds what one account may hold and do: sites, deployments per hour, bytes of the
 * deployments nodes keep, files per deployment, custom domains and their certificate orders per hour
 * (these two the same for every account). Limits are the master's `--quota-*` defaults unless an
 * admin set an override; admins are not limited. Checks run before any state changes and answer
 * `quota_exceeded` with the limit and how to raise it. Each check is a few indexed queries, so a
 * refused burst costs the master little.
 *
 * Checks and the inserts they guard run in one synchronous stretch of the event loop (bun:sqlite is
 * synchronous), so concurrent requests cannot both pass the last free slot.
 */
export class QuotaService {
  /** recent: each account's deployment creation times of the last hour, oldest first (see recentOf). */
  private recent = new Map<string, number[]>();
  private keptBytes: Statement<{ bytes: number }, [string, string]>;

  constructor(
    private db: Db,
    private config: MasterConfig,
  ) {
    // A site's newest KEPT_PER_SITE live deployments (index deployments_site), plus its production one.
    this.keptBytes = db.$client.query(
      `SELECT coalesce(sum(bytes_total), 0) AS bytes FROM (
         SELECT id, bytes_total FROM (
           SELECT id, bytes_total FROM deployments WHERE site_id = ?1 AND status != 'failed' ORDER BY created_at DESC LIMIT ${KEPT_PER_SITE})
         UNION SELECT id, bytes_total FROM deployments WHERE id = ?2)`,
    );
  }

  /** checkNewSite refuses a site the account has no room for (403). */
  checkNewSite(userId: string) {
    if (this.exempt(userId)) return;
    const q = this.limits(userId);
    const have = this.siteCount(userId);
    if (have >= q.sites)
      throw exceeded(403, `You own ${have} sites, the most your quota allows (sites: ${q.sites}).`, `Delete one with \`sprout sites delete NAME --yes\`, or ask an admin to raise it: ${raise(userId, "sites", "--quota-sites")}.`);
  }

  /**
   * checkNewDomain refuses a domain claim the account has no room for (403). Pending claims count:
   * each is looked up at every periodic check, and each verified one costs certificate orders.
   */
  checkNewDomain(userId: string) {
    if (this.exempt(userId)) return;
    const limit = this.config.quotas.domains;
    const have = this.db.select({ n: count() }).from(domains).where(eq(domains.ownerId, userId)).get()?.n ?? 0;
    if (have >= limit)
      throw exceeded(403, `You claim ${have} custom domains, the most your quota allows (domains: ${limit}).`, "Remove one with `sprout domains remove NAME`, or ask an admin to raise it: `sprout master --quota-domains N`.");
  }

  /**
   * certificatesPerHour is how many certificate orders the account's domains may cost in any 60
   * minutes, or null for an admin (not limited).
   */
  certificatesPerHour(userId: string): number | null {
    return this.exempt(userId) ? null : this.config.quotas.certificatesPerHour;
  }

  /**
   * checkDeployment refuses a deployment over any quota: the hour's count first (the cheapest, so a
   * burst is turned away early), then files, a new site's slot, and bytes with this deployment added.
   */
  checkDeployment(userId: string, d: { files: number; bytes: number; newSite: boolean }) {
    if (this.exempt(userId)) return;
    const q = this.limits(userId);
    const full = this.hourFull(userId, q.deploysPerHour);
    if (full) {
      const minutes = Math.max(1, Math.ceil((full.freesAt - Date.now()) / 60_000));
      throw exceeded(429, `You created ${q.deploysPerHour} deployments in the last hour, the most your quota allows (deploys_per_hour: ${q.deploysPerHour}).`, `Try again in ${minutes} min, or ask an admin to raise it: ${raise(userId, "deploys_per_hour", "--quota-deploys-per-hour")}.`);
    }
    if (d.files > q.filesPerDeployment)
      throw exceeded(413, `This deployment has ${d.files} files, more than your quota allows (files_per_deployment: ${q.filesPerDeployment}).`, `Leave files out with a .sproutignore, or ask an admin to raise it: ${raise(userId, "files_per_deployment", "--quota-files")}.`);
    if (d.newSite) this.checkNewSite(userId);
    const stored = this.bytesKept(userId);
    if (stored + d.bytes > q.bytes)
      throw exceeded(413, `This deployment (${d.bytes} bytes) would bring your kept deployments to ${stored + d.bytes} bytes, over your quota (bytes: ${q.bytes}).`, `Delete sites you no longer need (\`sprout sites delete NAME --yes\`), or ask an admin to raise it: ${raise(userId, "bytes", "--quota-bytes")}.`);
  }

  /** recordDeployment counts a created deployment towards the hour (call right after inserting it). */
  recordDeployment(userId: string) {
    if (!this.exempt(userId)) this.recentOf(userId).push(Date.now());
  }

  /** prune forgets creations older than an hour, so the map stays as small as the hour's activity. */
  prune() {
    const cutoff = Date.now() - HOUR_MS;
    for (const [id, list] of this.recent) {
      const kept = list.filter((t) => t > cutoff);
      if (kept.length) this.recent.set(id, kept);
      else this.recent.delete(id);
    }
  }

  /** info is an account's limits, overrides and usage. */
  info(userId: string): QuotaInfo {
    const user = this.db.select({ isAdmin: users.isAdmin }).from(users).where(eq(users.id, userId)).get();
    if (!user) throw notFound(`User ${userId}`);
    const q = this.limits(userId);
    const o = this.override(userId);
    return {
      user_id: userId,
      exempt: user.isAdmin,
      limits: { sites: q.sites, deploys_per_hour: q.deploysPerHour, bytes: q.bytes, files_per_deployment: q.filesPerDeployment },
      overrides: { sites: o?.sites ?? null, deploys_per_hour: o?.deploysPerHour ?? null, bytes: o?.bytes ?? null, files_per_deployment: o?.filesPerDeployment ?? null },
      usage: { sites: this.siteCount(userId), deploys_last_hour: this.deploysLastHour(userId), bytes: this.bytesKept(userId) },
    };
  }

  /** set applies an admin's override (null: back to the default) and answers the account's quota. */
  set(userId: string, change: QuotaUpdate): QuotaInfo {
    if (!this.db.select({ id: users.id }).from(users).where(eq(users.id, userId)).get()) throw notFound(`User ${userId}`, "List users with GET /api/users.");
    const o = this.override(userId);
    const pick = <K extends keyof QuotaUpdate>(k: K, current: number | null | undefined) => (change[k] === undefined ? current ?? null : change[k]);
    const row: Override = {
      userId,
      sites: pick("sites", o?.sites),
      deploysPerHour: pick("deploys_per_hour", o?.deploysPerHour),
      bytes: pick("bytes", o?.bytes),
      filesPerDeployment: pick("files_per_deployment", o?.filesPerDeployment),
      updatedAt: now(),
    };
    this.db.insert(userQuotas).values(row).onConflictDoUpdate({ target: userQuotas.userId, set: row }).run();
    return this.info(userId);
  }

  /** limits are the account's quota: the override where set, else the master's default. */
  limits(userId: string): MasterConfig["quotas"] {
    const d = this.config.quotas;
    const o = this.override(userId);
    return {
      sites: o?.sites ?? d.sites,
      deploysPerHour: o?.deploysPerHour ?? d.deploysPerHour,
      bytes: o?.bytes ?? d.bytes,
      filesPerDeployment: o?.filesPerDeployment ?? d.filesPerDeployment,
      domains: d.domains,
      certificatesPerHour: d.certificatesPerHour,
    };
  }

  private exempt(userId: string): boolean {
    return this.db.select({ isAdmin: users.isAdmin }).from(users).where(eq(users.id, userId)).get()?.isAdmin ?? false;
  }

  private override(userId: string): Override | undefined {
    return this.db.select().from(userQuotas).where(eq(userQuotas.userId, userId)).get();
  }

  private siteCount(userId: string): number {
    return this.db.select({ n: count() }).from(sites).where(eq(sites.ownerId, userId)).get()?.n ?? 0;
  }

  /**
   * hourFull tells whether the account created `limit` deployments in the last hour, and when the
   * oldest of those leaves the window. O(1) per check: see `recentOf`.
   */
  private hourFull(userId: string, limit: number): { freesAt: number } | null {
    const list = this.recentOf(userId);
    return list.length >= limit ? { freesAt: list[list.length - limit]! + HOUR_MS } : null;
  }

  /** deploysLastHour counts the account's creations of the last hour (for GET .../quota). */
  private deploysLastHour(userId: string): number {
    return this.recentOf(userId).length;
  }

  /**
   * recentOf answers the account's creation times of the last hour, oldest first. The list is
   * loaded from the deployments' rows the first time (so a restart forgets nothing) and then kept
   * here as deployments are created, so deleting a site, which deletes its rows, gives none back.
   */
  private recentOf(userId: string): number[] {
    const since = Date.now() - HOUR_MS;
    let list = this.recent.get(userId);
    if (!list) {
      list = this.db
        .select({ at: deployments.createdAt })
        .from(deployments)
        .where(and(eq(deployments.creatorId, userId), gt(deployments.createdAt, new Date(since).toISOString())))
        .orderBy(deployments.createdAt)
        .all()
        .map((r) => Date.parse(r.at));
      this.recent.set(userId, list);
    }
    let drop = 0;
    while (drop < list.length && list[drop]! <= since) drop++;
    if (drop) list.splice(0, drop);
    return list;
  }

  /** bytesKept sums the account's deployments that nodes keep (see KEPT_PER_SITE). */
  private bytesKept(userId: string): number {
    let total = 0;
    for (const s of this.db.select({ id: sites.id, prod: sites.productionDeploymentId }).from(sites).where(eq(sites.ownerId, userId)).all())
      total += this.keptBytes.get(s.id, s.prod ?? "")?.bytes ?? 0;
    return total;
  }
}

/** exceeded is the one error of every quota: what the limit is is in the message, how to raise it in the hint. */
function exceeded(status: 403 | 413 | 429, message: string, hint: string) {
  return new SproutError(status, "quota_exceeded", message, hint);
}

const raise = (userId: string, field: string, flag: string) =>
  `PATCH /api/users/${userId}/quota {"${field}": N} for this account, or \`sprout master ${flag}\` for everyone`;
