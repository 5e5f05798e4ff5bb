import { and, asc, desc, eq, gt, isNotNull, ne } from "drizzle-orm";
import type { Db } from "../../db";
import { agents, deploymentEvents, deploymentReplicas, deployments, sites as sitesTable } from "../../db/schema";
import { PROMOTION_REQUESTED, type DeploymentCreate, type DeploymentCreated, type DeploymentInfo, type Manifest, type StatusReport } from "../../protocol/deployment";
import type { Task } from "../../protocol/agent";
import { SproutError, conflict, forbidden, notFound, unavailable } from "../../shared/errors";
import { signGrant, signPeerToken } from "../../shared/grant";
import { previewHost, productionHost } from "../../shared/hosts";
import { newId } from "../../shared/ids";
import { checkManifest, manifestDigest, sortManifest } from "../../shared/manifest";
import { now, type MasterConfig } from "../config";
import type { AgentService } from "./agents";
import type { MasterKeys } from "./keys";
import type { SiteRow, SiteService } from "./sites";
import type { TaskQueue } from "./tasks";

type Row = typeof deployments.$inferSelect;
type Level = "info" | "warn" | "error";

/**
 * DeploymentService runs the deploy protocol (DESIGN.md section 5) on the master's side: it creates
 * deployments with an upload grant for the site's primary node, follows the nodes' reports, replicates
 * to the other nodes, activates production once every replica has staged, and moves production on
 * promote and rollback.
 */
export class DeploymentService {
  constructor(
    private db: Db,
    private config: MasterConfig,
    private keys: MasterKeys,
    private sites: SiteService,
    private agents: AgentService,
    private tasks: TaskQueue,
  ) {
    tasks.onResult = (agentId, task, ok, error) => this.onTaskResult(agentId, task, ok, error);
  }

  async create(userId: string, body: DeploymentCreate): Promise<DeploymentCreated> {
    const totals = checkManifest(body.manifest);
    const found = this.sites.find(userId, body.site);
    if (found.taken) throw conflict("site_taken", `The site name "${body.site}" belongs to another account.`, "Pick another name with --site.");
    const targets = this.chooseAgents(found.site);
    const site = found.site ?? this.sites.create(userId, body.site);
    this.sites.place(site.id, targets.map((a) => a.id));
    // Nodes learn the site's settings (SPA...) before the upload ends; applying them twice is harmless.
    this.sites.syncToAgents(site);
    const manifest = sortManifest(body.manifest);
    const digest = manifestDigest(manifest);
    const at = now();
    const row: Row = {
      id: newId(),
      siteId: site.id,
      creatorId: userId,
      status: "pending",
      production: body.production ?? false,
      manifestDigest: digest,
      manifest: JSON.stringify(manifest),
      filesTotal: totals.files,
      bytesTotal: totals.bytes,
      filesUploaded: 0,
      bytesUploaded: 0,
      error: null,
      promotedAt: null,
      createdAt: at,
      finishedAt: null,
    };
    this.db.transaction((tx) => {
      tx.insert(deployments).values(row).run();
      for (const a of targets) tx.insert(deploymentReplicas).values({ deploymentId: row.id, agentId: a.id, state: "pending", updatedAt: at }).run();
    });
    const primary = targets[0]!;
    this.event(row.id, null, "info", `Deployment created: ${totals.files} files, ${totals.bytes} bytes, ${row.production ? "production" : "preview"}; uploading to ${primary.name}.`);
    const grant = await signGrant(this.keys.grant.privateJwk, { site: site.name, deployment_id: row.id, agent_id: primary.id, manifest_digest: digest, production: row.production, owner: site.ownerId });
    return { deployment: this.info(row, site), upload: { agent_id: primary.id, agent_url: primary.url!, grant } };
  }

  /** chooseAgents: the site's online nodes, or for a new site the online nodes with most free disk. */
  private chooseAgents(site: SiteRow | undefined) {
    const online = this.agents.online().filter((a) => a.url);
    if (site) {
      const held = new Set(this.sites.placementAgents(site.id));
      const mine = online.filter((a) => held.has(a.id));
      if (mine.length) return mine;
    }
    if (!online.length)
      throw unavailable("no_agents", "No agent is online to receive this deployment.", "Start one: sprout agent --master <url> --token <agent token>.");
    const free = (a: (typeof online)[number]) => (a.system ? (JSON.parse(a.system) as { disk_free: number }).disk_free : 0);
    return [...online].sort((a, b) => free(b) - free(a)).slice(0, Math.min(2, online.length));
  }

  /** get answers one of the caller's deployments with its events (after event id `after`). */
  get(userId: string, id: string, after = 0): DeploymentInfo {
    const { row, site } = this.owned(userId, id);
    const events = this.db
      .select()
      .from(deploymentEvents)
      .leftJoin(agents, eq(agents.id, deploymentEvents.agentId))
      .where(and(eq(deploymentEvents.deploymentId, id), gt(deploymentEvents.id, after)))
      .orderBy(asc(deploymentEvents.id))
      .all()
      .map((r) => ({ id: r.deployment_events.id, at: r.deployment_events.at, level: r.deployment_events.level, message: r.deployment_events.message, agent: r.agents?.name ?? null }));
    return { ...this.info(row, site), events };
  }

  list(userId: string, siteName: string): DeploymentInfo[] {
    const site = this.sites.owned(userId, siteName);
    return this.db.select().from(deployments).where(eq(deployments.siteId, site.id)).orderBy(desc(deployments.createdAt)).limit(200).all().map((r) => this.info(r, site));
  }

  /**
   * report applies an agent's StatusReport; the agent must hold a replica of that deployment. It
   * resolves once the tasks it causes are queued (replication signs a peer token first).
   */
  async report(agentId: string, r: StatusReport): Promise<void> {
    const row = this.db.select().from(deployments).where(eq(deployments.id, r.deployment_id)).get();
    const replica = row && this.db.select().from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, row.id), eq(deploymentReplicas.agentId, agentId))).get();
    if (!row || !replica) throw forbidden("This agent holds no replica of that deployment.");
    const level: Level = r.level ?? (r.phase === "failed" ? "error" : "info");
    this.event(row.id, agentId, level, r.message);
    const at = now();
    const setReplica = (state: "staged" | "active" | "failed") =>
      this.db.update(deploymentReplicas).set({ state, updatedAt: at }).where(and(eq(deploymentReplicas.deploymentId, row.id), eq(deploymentReplicas.agentId, agentId))).run();
    switch (r.phase) {
      case "log":
      case "uploaded":
        break;
      case "uploading":
        this.db
          .update(deployments)
          .set({ status: row.status === "pending" ? "uploading" : row.status, filesUploaded: r.files_uploaded ?? row.filesUploaded, bytesUploaded: r.bytes_uploaded ?? row.bytesUploaded })
          .where(eq(deployments.id, row.id))
          .run();
        break;
      case "staged":
        setReplica("staged");
        if (r.files_uploaded !== undefined)
          this.db.update(deployments).set({ filesUploaded: r.files_uploaded, bytesUploaded: r.bytes_uploaded ?? row.bytesUploaded }).where(eq(deployments.id, row.id)).run();
        await this.afterStaged(row, agentId);
        break;
      case "active":
        setReplica("active");
        this.afterActive(row);
        break;
      case "failed":
        setReplica("failed");
        if (row.status !== "ready")
          this.db.update(deployments).set({ status: "failed", error: r.message, finishedAt: at }).where(eq(deployments.id, row.id)).run();
        break;
    }
  }

  private async afterStaged(row: Row, agentId: string) {
    const replicas = this.replicas(row.id);
    const site = this.siteOf(row);
    const pending = replicas.filter((x) => x.state === "pending");
    // The primary staged from the upload; the others replicate from it, each with a token that lets
    // it read the site account's blobs from the primary (and nothing else from anywhere).
    if (pending.length && replicas.filter((x) => x.state === "staged").length === 1) {
      const peer = this.agents.get(agentId).url;
      this.event(row.id, null, "info", `Replicating to ${pending.length} more node(s).`);
      for (const p of pending) {
        const peer_token = await signPeerToken(this.keys.grant.privateJwk, { deployment_id: row.id, owner: site.ownerId, from: agentId, to: p.agentId });
        this.tasks.enqueue(p.agentId, { kind: "stage", site: site.name, deployment_id: row.id, manifest: JSON.parse(row.manifest) as Manifest, peers: peer ? [peer] : [], production: row.production, owner: site.ownerId, peer_token });
      }
      return;
    }
    if (pending.length || replicas.some((x) => x.state === "failed")) return;
    if (row.production) {
      this.db.update(deployments).set({ status: "staged" }).where(eq(deployments.id, row.id)).run();
      this.activate(row, site);
    } else {
      this.db.update(deployments).set({ status: "ready", finishedAt: now() }).where(eq(deployments.id, row.id)).run();
      this.event(row.id, null, "info", "Preview ready.");
    }
  }

  private afterActive(row: Row) {
    const replicas = this.replicas(row.id);
    if (replicas.some((x) => x.state !== "active")) return;
    const at = now();
    const site = this.siteOf(row);
    this.db.update(deployments).set({ status: "ready", promotedAt: at, finishedAt: row.finishedAt ?? at }).where(eq(deployments.id, row.id)).run();
    if (site.productionDeploymentId !== row.id) {
      this.db.update(sitesTable).set({ productionDeploymentId: row.id }).where(eq(sitesTable.id, site.id)).run();
      // Other deployments are no longer active anywhere: their replicas go back to "staged".
      this.db.update(deploymentReplicas).set({ state: "staged", updatedAt: at }).where(and(ne(deploymentReplicas.deploymentId, row.id), eq(deploymentReplicas.state, "active"))).run();
    }
    this.event(row.id, null, "info", "Live on production.");
  }

  /** promote makes a ready deployment of the site production on every node that holds the site. */
  promote(userId: string, siteName: string, deploymentId: string): DeploymentInfo {
    const site = this.sites.owned(userId, siteName);
    const row = this.db.select().from(deployments).where(and(eq(deployments.id, deploymentId), eq(deployments.siteId, site.id))).get();
    if (!row) throw notFound(`Deployment ${deploymentId} of site "${siteName}"`);
    if (row.status !== "ready" && row.status !== "staged")
      throw conflict("not_ready", `Deployment ${deploymentId} is ${row.status}; only a ready deployment can go to production.`);
    this.event(row.id, null, "info", PROMOTION_REQUESTED);
    this.activate(row, site);
    return this.info(row, site);
  }

  /** rollback promotes the given deployment, or the one that was production before the current one. */
  rollback(userId: string, siteName: string, deploymentId?: string): DeploymentInfo {
    const site = this.sites.owned(userId, siteName);
    if (deploymentId) return this.promote(userId, siteName, deploymentId);
    const previous = this.db
      .select()
      .from(deployments)
      .where(and(eq(deployments.siteId, site.id), isNotNull(deployments.promotedAt), ne(deployments.id, site.productionDeploymentId ?? "")))
      .orderBy(desc(deployments.promotedAt))
      .get();
    if (!previous) throw conflict("no_previous", `Site "${siteName}" has no earlier production deployment to roll back to.`, "List deployments with `sprout deployments --site " + siteName + "`.");
    return this.promote(userId, siteName, previous.id);
  }

  private activate(row: Row, site: SiteRow) {
    for (const r of this.replicas(row.id))
      if (r.state !== "failed") this.tasks.enqueue(r.agentId, { kind: "activate", site: site.name, deployment_id: row.id });
  }

  private onTaskResult(agentId: string, task: Task, ok: boolean, error?: string) {
    if (ok || (task.kind !== "activate" && task.kind !== "stage")) return;
    const row = this.db.select().from(deployments).where(eq(deployments.id, task.deployment_id)).get();
    if (!row) return;
    // A replica the agent no longer holds (site deleted meanwhile) has nothing left to report to.
    this.report(agentId, { deployment_id: row.id, phase: row.status === "ready" ? "log" : "failed", level: "error", message: `${task.kind} failed: ${error ?? "unknown error"}` }).catch(() => {});
  }

  private owned(userId: string, id: string) {
    const row = this.db.select().from(deployments).where(eq(deployments.id, id)).get();
    const site = row ? this.siteOf(row) : undefined;
    if (!row || !site || site.ownerId !== userId) throw notFound(`Deployment ${id}`);
    return { row, site };
  }

  private siteOf(row: Row): SiteRow {
    const s = this.db.select().from(sitesTable).where(eq(sitesTable.id, row.siteId)).get();
    if (!s) throw new SproutError(410, "site_deleted", "The site of this deployment was deleted.");
    return s;
  }

  private replicas(id: string) {
    return this.db.select().from(deploymentReplicas).where(eq(deploymentReplicas.deploymentId, id)).all();
  }

  event(deploymentId: string, agentId: string | null, level: Level, message: string) {
    this.db.insert(deploymentEvents).values({ deploymentId, agentId, level, message, at: now() }).run();
  }

  info(row: Row, site: SiteRow): DeploymentInfo {
    return {
      id: row.id,
      site: site.name,
      status: row.status,
      production: row.production,
      is_production: site.productionDeploymentId === row.id,
      files_total: row.filesTotal,
      bytes_total: row.bytesTotal,
      files_uploaded: row.filesUploaded,
      bytes_uploaded: row.bytesUploaded,
      manifest_digest: row.manifestDigest,
      url: this.sites.servingUrl(site.id, productionHost(site.name, this.config.domain)),
      preview_url: this.sites.servingUrl(site.id, previewHost(row.id, site.name, this.config.domain)),
      error: row.error,
      created_at: row.createdAt,
      finished_at: row.finishedAt,
    };
  }
}
