import { and, asc, desc, eq, gt, inArray, isNotNull, lt, ne, sql } from "drizzle-orm";
import type { Db } from "../../db";
import { agents, deploymentEvents, deploymentReplicas, deployments, placements, sites as sitesTable } from "../../db/schema";
import { CANCELLED, PROMOTION_REQUESTED, type DeploymentCreate, type DeploymentCreated, type DeploymentInfo, type StatusReport } from "../../protocol/deployment";
import type { Task } from "../../protocol/agent";
import { settled } from "../../shared/settled";
import { SproutError, conflict, forbidden, notFound, unavailable } from "../../shared/errors";
import { signGrant, signPeerToken } from "../../shared/grant";
import { previewHost, productionHost } from "../../shared/hosts";
import { newId } from "../../shared/ids";
import { checkManifest, manifestDigestOfLines, sortManifest } from "../../shared/manifest";
import { chunkManifest } from "../../shared/manifest-chunks";
import { now, type MasterConfig } from "../config";
import type { AgentService } from "./agents";
import type { MasterKeys } from "./keys";
import { DEFAULT_REPLICAS, type SiteRow, type SiteService } from "./sites";
import { logger } from "../../shared/log";
import type { QuotaService } from "./quotas";
import type { TaskQueue } from "./tasks";
import { ManifestStore } from "./manifests";

type Row = typeof deployments.$inferSelect;
const log = logger("deployments");

/** byFreeDisk orders nodes by the free disk of their last heartbeat, most first. */
function byFreeDisk<T extends { system: string | null }>(nodes: T[]): T[] {
  const free = (a: T) => (a.system ? (JSON.parse(a.system) as { disk_free: number }).disk_free : 0);
  return [...nodes].sort((a, b) => free(b) - free(a));
}
type Level = "info" | "warn" | "error";

/**
 * DeploymentService runs the deploy protocol (DESIGN.md section 5) on the master's side: it creates
 * deployments with an upload grant for the site's primary node, follows the nodes' reports, replicates
 * to the other nodes, activates production once every replica has staged, and moves production on
 * promote and rollback.
 */
export class DeploymentService {
  /** manifests: every deployment's manifest, stored as chunks shared between deployments. */
  readonly manifests: ManifestStore;

  constructor(
    private db: Db,
    private config: MasterConfig,
    private keys: MasterKeys,
    private sites: SiteService,
    private agents: AgentService,
    private tasks: TaskQueue,
    private quotas: QuotaService,
  ) {
    this.manifests = new ManifestStore(db);
    tasks.onResult = (agentId, task, ok, error) => this.onTaskResult(agentId, task, ok, error);
    const warn = (what: string) => (e: Error) => log.warn(`${what} failed`, { error: e.message });
    agents.onBack = (agentId) => void this.reconcileAgent(agentId).catch(warn("catching a node up"));
    agents.onDown = (agentId) => void this.nodeDown(agentId).catch(warn("moving on without a node"));
  }

  /** onFinished hears of each deployment that reached ready or failed (metrics; set by the master). */
  onFinished: (status: "ready" | "failed", d: { id: string; siteId: string; createdAt: string; error: string | null }) => void = () => {};

  /**
   * create checks quotas and the manifest before any state changes, then records the deployment and
   * signs its upload grant. Everything up to the insert is synchronous, so the quota check and the
   * insert it guards cannot interleave with another request's.
   */
  async create(userId: string, body: DeploymentCreate): Promise<DeploymentCreated> {
    const found = this.sites.find(userId, body.site);
    if (found.taken) throw conflict("site_taken", `The site name "${body.site}" belongs to another account.`, "Pick another name with --site.");
    const declaredBytes = body.manifest.reduce((n, e) => n + e.size, 0);
    this.quotas.checkDeployment(userId, { files: body.manifest.length, bytes: declaredBytes, newSite: !found.site });
    const totals = checkManifest(body.manifest);
    const targets = this.chooseAgents(found.site);
    const site = found.site ?? this.sites.create(userId, body.site);
    // Nodes learn the site's settings (SPA...) before the upload ends. Only a new site or a new node
    // needs them: settings changes are sent by SiteService.update, and one sync per deployment would
    // flood the node's task queue and delay every other tenant's activations behind it.
    if (this.sites.place(site.id, targets.map((a) => a.id)) > 0 || !found.site) this.sites.syncToAgents(site);
    // The CLI sends the manifest in order (sortManifest then only checks); the chunks the master
    // stores are the digest's lines too.
    const chunks = chunkManifest(sortManifest(body.manifest));
    const digest = manifestDigestOfLines(chunks.map((c) => c.text));
    const at = now();
    const row: Row = {
      id: newId(),
      siteId: site.id,
      creatorId: userId,
      status: "pending",
      production: body.production ?? false,
      manifestDigest: digest,
      manifest: "",
      filesTotal: totals.files,
      bytesTotal: totals.bytes,
      filesUploaded: 0,
      bytesUploaded: 0,
      error: null,
      message: body.message?.trim() || null,
      promotedAt: null,
      requestedAt: null,
      createdAt: at,
      finishedAt: null,
    };
    this.db.transaction((tx) => {
      tx.insert(deployments).values(row).run();
      this.manifests.putChunks(row.id, chunks);
      for (const a of targets) tx.insert(deploymentReplicas).values({ deploymentId: row.id, agentId: a.id, state: "pending", updatedAt: at }).run();
    });
    this.quotas.recordDeployment(userId);
    const primary = targets[0]!;
    this.event(row.id, null, "info", `Deployment created: ${totals.files} files, ${totals.bytes} bytes, ${row.production ? "production" : "preview"}; uploading to ${primary.name}.`);
    const grant = await signGrant(this.keys.grant.privateJwk, { site: site.name, deployment_id: row.id, agent_id: primary.id, manifest_digest: digest, production: row.production, owner: site.ownerId });
    return { deployment: this.info(row, site), upload: { agent_id: primary.id, agent_url: primary.url!, agent_pin: primary.tlsPin ?? null, grant } };
  }

  /** chooseAgents: the site's online nodes, or for a new site the online nodes with most free disk. */
  private chooseAgents(site: SiteRow | undefined) {
    // Draining nodes take nothing new (`sprout agents drain`).
    const online = this.agents.placeable().filter((a) => a.url);
    if (site) {
      const held = new Set(this.sites.placementAgents(site.id));
      const mine = online.filter((a) => held.has(a.id));
      if (mine.length) return mine;
    }
    if (!online.length)
      throw unavailable("no_agents", "No agent is online to receive this deployment.", "Start one: sprout agent --master <url> --token <agent token>.");
    return byFreeDisk(online).slice(0, Math.min(site?.replicas ?? DEFAULT_REPLICAS, online.length));
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

  /**
   * follow answers like `get`, but when nothing happened since event `after` and the deployment has
   * not finished, it waits up to `waitMs` for the next line of its log first (a long poll): the CLI
   * hears "Live on production" the moment it is logged, and asks once rather than every 50 ms.
   */
  async follow(userId: string, id: string, after: number, waitMs: number, signal?: AbortSignal): Promise<DeploymentInfo> {
    const first = this.get(userId, id, after);
    if (waitMs <= 0 || first.events?.length || settled(first)) return first;
    const ms = Math.min(waitMs, MAX_FOLLOW_WAIT_MS);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stop();
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const stop = this.watch((changed) => changed === id && done());
      // A client gone (a CLI killed) frees its watcher and timer at once.
      signal?.addEventListener("abort", done);
      if (signal?.aborted) done();
    });
    return this.get(userId, id, after);
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
    // Failed is final (e.g. expired as abandoned): a late report is logged but moves nothing, so an
    // upload finishing after its deployment expired cannot bring it back.
    if (row.status === "failed") return;
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
        if (r.generation !== undefined)
          this.db
            .update(placements)
            .set({ appliedGeneration: sql`max(${placements.appliedGeneration}, ${r.generation})` })
            .where(and(eq(placements.siteId, row.siteId), eq(placements.agentId, agentId)))
            .run();
        this.afterActive(row);
        break;
      case "failed":
        setReplica("failed");
        if (row.status !== "ready") {
          this.db.update(deployments).set({ status: "failed", error: r.message, finishedAt: at }).where(eq(deployments.id, row.id)).run();
          this.onFinished("failed", { ...row, error: r.message });
        }
        break;
    }
  }

  private async afterStaged(row: Row, agentId: string) {
    // A deployment that is already ready or failed staged on one more node: a node catching up
    // (reconcileAgent queued its activation too); nothing more to decide here.
    if (row.status === "ready" || row.status === "failed") return;
    const replicas = this.replicas(row.id);
    const site = this.siteOf(row);
    const up = this.onlineAgents();
    // Replicas on nodes that are down do not hold the deploy up: they catch up when they return.
    const pending = replicas.filter((x) => x.state === "pending" && up.has(x.agentId));
    // The primary staged from the upload; the others replicate from it, each with a token that lets
    // it read the site account's blobs from the primary (and nothing else from anywhere).
    if (pending.length && replicas.filter((x) => x.state === "staged").length === 1) {
      this.event(row.id, null, "info", `Replicating to ${pending.length} more node(s).`);
      for (const p of pending) this.tasks.enqueue(p.agentId, await this.stageTask(row, site, agentId, p.agentId));
      return;
    }
    if (pending.length || replicas.some((x) => x.state === "failed")) return;
    if (row.production) {
      this.db.update(deployments).set({ status: "staged" }).where(eq(deployments.id, row.id)).run();
      this.activate(row, site);
    } else {
      this.db.update(deployments).set({ status: "ready", finishedAt: now() }).where(eq(deployments.id, row.id)).run();
      this.onFinished("ready", row);
      this.event(row.id, null, "info", "Preview ready.");
    }
  }

  /**
   * stageTask asks node `to` to stage a deployment that node `from` holds, with the master's token
   * for fetching the site account's blobs from that node only.
   */
  private async stageTask(row: Row, site: SiteRow, from: string, to: string): Promise<Task> {
    const { url: peer, tlsPin } = this.agents.get(from);
    const peer_token = await signPeerToken(this.keys.grant.privateJwk, { deployment_id: row.id, owner: site.ownerId, from, to });
    const manifest = this.manifests.get(row.id);
    return { kind: "stage", site: site.name, deployment_id: row.id, manifest, peers: peer ? [peer] : [], peer_pins: peer ? [tlsPin ?? null] : [], production: row.production, owner: site.ownerId, peer_token };
  }

  private afterActive(row: Row) {
    const site = this.siteOf(row);
    const at = now();
    if (site.desiredDeploymentId !== row.id) {
      // A newer deploy, promote or rollback took production while this one was on its way.
      if (row.status !== "ready") {
        this.db.update(deployments).set({ status: "ready", finishedAt: row.finishedAt ?? at }).where(eq(deployments.id, row.id)).run();
        this.event(row.id, null, "warn", "A newer production change came first; this deployment stays a preview.");
      }
      return;
    }
    const up = this.onlineAgents();
    if (this.replicas(row.id).some((x) => x.state !== "active" && x.state !== "failed" && up.has(x.agentId))) return;
    if (site.productionDeploymentId === row.id && row.status === "ready") return;
    this.db.transaction((tx) => {
      tx.update(deployments).set({ status: "ready", promotedAt: at, finishedAt: row.finishedAt ?? at }).where(eq(deployments.id, row.id)).run();
      tx.update(sitesTable).set({ productionDeploymentId: row.id }).where(eq(sitesTable.id, site.id)).run();
      // This site's other deployments are no longer active anywhere (other sites' rows are left alone).
      const siteDeployments = tx.select({ id: deployments.id }).from(deployments).where(eq(deployments.siteId, site.id));
      tx.update(deploymentReplicas)
        .set({ state: "staged", updatedAt: at })
        .where(and(ne(deploymentReplicas.deploymentId, row.id), eq(deploymentReplicas.state, "active"), inArray(deploymentReplicas.deploymentId, siteDeployments)))
        .run();
    });
    if (row.status !== "ready") this.onFinished("ready", row);
    this.event(row.id, null, "info", "Live on production.");
  }

  /**
   * reconcileAgent brings a node that was away (or restarted) in line with the master's record: for
   * each site it holds whose generation it has not reached, the desired deployment is staged there
   * from a peer when it lacks it, then activated with the site's current generation. The node
   * ignores an activation older than what it serves, so running this twice does no harm.
   */
  async reconcileAgent(agentId: string) {
    const held = this.db
      .select({ site: sitesTable, applied: placements.appliedGeneration })
      .from(placements)
      .innerJoin(sitesTable, eq(sitesTable.id, placements.siteId))
      .where(eq(placements.agentId, agentId))
      .all();
    for (const { site, applied } of held) if (site.desiredDeploymentId && applied < site.generation) await this.catchUp(agentId, site);
  }

  /**
   * catchUp makes one node serve a site's desired production: staged from a node that is up and
   * holds it (never from the user) when the node lacks it, then activated at the site's generation.
   * Answers false, having changed nothing, when no node that is up can give it the files. `first`
   * runs before anything is queued (heal records the placement there).
   */
  private async catchUp(agentId: string, site: SiteRow, first: () => void = () => {}): Promise<boolean> {
    const row = site.desiredDeploymentId ? this.db.select().from(deployments).where(eq(deployments.id, site.desiredDeploymentId)).get() : undefined;
    if (!row) return false;
    const up = this.onlineAgents();
    const replica = this.db.select().from(deploymentReplicas).where(and(eq(deploymentReplicas.deploymentId, row.id), eq(deploymentReplicas.agentId, agentId))).get();
    const needsFiles = !replica || replica.state === "pending" || replica.state === "failed";
    const source = this.replicas(row.id).find((x) => x.agentId !== agentId && (x.state === "staged" || x.state === "active") && up.has(x.agentId));
    if (needsFiles && !source) return false;
    first();
    if (needsFiles) {
      const at = now();
      this.db
        .insert(deploymentReplicas)
        .values({ deploymentId: row.id, agentId, state: "pending", updatedAt: at })
        .onConflictDoUpdate({ target: [deploymentReplicas.deploymentId, deploymentReplicas.agentId], set: { state: "pending", updatedAt: at } })
        .run();
      const stage = await this.stageTask(row, site, source!.agentId, agentId);
      this.tasks.enqueue(agentId, stage);
    }
    this.tasks.enqueue(agentId, { kind: "activate", site: site.name, deployment_id: row.id, generation: site.generation });
    this.event(row.id, null, "info", `${this.agents.get(agentId).name} is catching up to this production deployment.`);
    return true;
  }

  /**
   * heal keeps every site on its replica count: when nodes holding a site have been down longer
   * than `healAfter` (or the count was raised), the site gets new replicas on nodes that are up
   * and do not hold it, most free disk first, copied from a node that has it. Runs on a timer.
   */
  async heal(healAfterSeconds: number) {
    if (this.healing) return;
    this.healing = true;
    try {
      await this.healOnce(healAfterSeconds);
    } catch (e) {
      log.warn("healing failed", { error: (e as Error).message });
    } finally {
      this.healing = false;
    }
  }

  private healing = false;

  private async healOnce(healAfterSeconds: number) {
    // New replicas go to nodes in service; a draining node's copies do not count (it is leaving).
    const up = this.agents.placeable();
    if (!up.length) return;
    const upIds = new Set(up.map((a) => a.id));
    const graceStart = new Date(Date.now() - healAfterSeconds * 1000).toISOString();
    const rows = this.db
      .select({ site: sitesTable, agentId: placements.agentId, lastSeen: agents.lastHeartbeatAt, draining: agents.drainingSince })
      .from(sitesTable)
      .innerJoin(placements, eq(placements.siteId, sitesTable.id))
      .innerJoin(agents, eq(agents.id, placements.agentId))
      .where(isNotNull(sitesTable.desiredDeploymentId))
      .all();
    const bySite = new Map<string, { site: SiteRow; held: { agentId: string; lastSeen: string | null; draining: string | null }[] }>();
    for (const r of rows) {
      const e = bySite.get(r.site.id) ?? { site: r.site, held: [] };
      e.held.push({ agentId: r.agentId, lastSeen: r.lastSeen, draining: r.draining });
      bySite.set(r.site.id, e);
    }
    for (const { site, held } of bySite.values()) {
      const want = Math.min(site.replicas, up.length);
      // Up, or down for less than the grace period (a restart): both still count.
      const counted = held.filter((h) => !h.draining && (upIds.has(h.agentId) || (h.lastSeen ?? "") > graceStart)).length;
      if (counted >= want) continue;
      const holders = new Set(held.map((h) => h.agentId));
      for (const a of byFreeDisk(up.filter((x) => !holders.has(x.id))).slice(0, want - counted)) {
        if (!(await this.catchUp(a.id, site, () => this.sites.place(site.id, [a.id])))) break;
        log.info("site given a new replica", { site: site.name, node: a.name });
      }
    }
  }

  /**
   * nodeDown lets deployments in flight go on without a node that just went silent: one waiting for
   * that node's replica to stage or activate moves on with the nodes that are up.
   */
  async nodeDown(agentId: string) {
    const inFlight = this.db
      .select({ d: deployments })
      .from(deploymentReplicas)
      .innerJoin(deployments, eq(deployments.id, deploymentReplicas.deploymentId))
      .where(and(eq(deploymentReplicas.agentId, agentId), inArray(deployments.status, ["pending", "uploading", "staged"])))
      .all()
      .map((r) => r.d);
    for (const row of inFlight) {
      try {
        if (row.status === "staged") this.afterActive(row);
        else {
          const staged = this.replicas(row.id).find((x) => x.state === "staged");
          if (staged) await this.afterStaged(row, staged.agentId);
        }
      } catch (e) {
        if (!(e instanceof SproutError)) throw e;
      }
    }
  }

  private onlineAgents(): Set<string> {
    return new Set(this.agents.online().map((a) => a.id));
  }

  /**
   * expireAbandoned fails the deployments still pending or uploading with no news (creation or log
   * line) for `ttlSeconds`: a CLI that died, a grant never used. Their replicas fail too, so a late
   * report cannot revive them. Idempotent; answers how many it expired.
   */
  expireAbandoned(ttlSeconds: number): number {
    const cutoff = new Date(Date.now() - ttlSeconds * 1000).toISOString();
    const stale = this.db
      .select({ id: deployments.id, siteId: deployments.siteId, createdAt: deployments.createdAt })
      .from(deployments)
      .where(
        and(
          inArray(deployments.status, ["pending", "uploading"]),
          lt(deployments.createdAt, cutoff),
          sql`coalesce((SELECT max(${deploymentEvents.at}) FROM ${deploymentEvents} WHERE ${deploymentEvents.deploymentId} = ${deployments.id}), ${deployments.createdAt}) < ${cutoff}`,
        ),
      )
      .limit(500)
      .all();
    const at = now();
    const message = `Upload abandoned: nothing arrived for ${describeSeconds(ttlSeconds)}, so this deployment failed. Run the deploy again.`;
    for (const { id, siteId, createdAt } of stale) {
      this.onFinished("failed", { id, siteId, createdAt, error: "Upload abandoned" });
      this.db.transaction((tx) => {
        tx
          .update(deployments)
          .set({ status: "failed", error: "Upload abandoned", finishedAt: at })
          .where(and(eq(deployments.id, id), inArray(deployments.status, ["pending", "uploading"])))
          .run();
        tx.update(deploymentReplicas).set({ state: "failed", updatedAt: at }).where(and(eq(deploymentReplicas.deploymentId, id), eq(deploymentReplicas.state, "pending"))).run();
        tx.insert(deploymentEvents).values({ deploymentId: id, agentId: null, level: "error", message, at }).run();
      });
    }
    for (const { id } of stale) this.changed(id);
    return stale.length;
  }

  /** promote makes a ready deployment of the site production on every node that holds the site. */
  promote(userId: string, siteName: string, deploymentId: string): DeploymentInfo {
    const site = this.sites.owned(userId, siteName);
    const row = this.db.select().from(deployments).where(and(eq(deployments.id, deploymentId), eq(deployments.siteId, site.id))).get();
    if (!row) throw notFound(`Deployment ${deploymentId} of site "${siteName}"`);
    if (row.status !== "ready" && row.status !== "staged")
      throw conflict("not_ready", `Deployment ${deploymentId} is ${row.status}; only a ready deployment can go to production.`);
    this.event(row.id, null, "info", PROMOTION_REQUESTED);
    const requestedAt = now();
    // One transaction: a master killed in between never marks a deployment asked for (and so
    // "superseded") without having asked the nodes for it.
    this.db.transaction(() => {
      this.db.update(deployments).set({ requestedAt }).where(eq(deployments.id, row.id)).run();
      this.activate(row, site);
    });
    return this.info({ ...row, requestedAt }, this.siteOf(row));
  }

  /**
   * cancel stops a deployment of the site that is still pending or uploading: it fails with
   * "Cancelled", its replicas that have not staged fail, and a report arriving later (the upload
   * finishing, a replica staging) moves nothing, as for any failed deployment. It never reaches
   * production. Cancelling a failed deployment changes nothing (so a second click is harmless); one
   * that is staged or ready is past the point of cancelling: roll back or promote instead.
   */
  cancel(userId: string, siteName: string, deploymentId: string, by: string): DeploymentInfo {
    const site = this.sites.owned(userId, siteName);
    const row = this.db.select().from(deployments).where(and(eq(deployments.id, deploymentId), eq(deployments.siteId, site.id))).get();
    if (!row) throw notFound(`Deployment ${deploymentId} of site "${siteName}"`);
    if (row.status === "staged" || row.status === "ready")
      throw conflict(
        "not_running",
        `Deployment ${deploymentId} is ${row.status === "staged" ? "going live now" : "ready"}; only a deployment still uploading can be cancelled.`,
        row.production ? `Put the previous one back with \`sprout rollback --site ${siteName}\`.` : "A preview does nothing until you promote it; leave it.",
      );
    const at = now();
    const stopped = this.db.transaction((tx) => {
      const r = tx
        .update(deployments)
        .set({ status: "failed", error: CANCELLED, finishedAt: at })
        .where(and(eq(deployments.id, row.id), inArray(deployments.status, ["pending", "uploading"])))
        .returning({ id: deployments.id })
        .all();
      if (!r.length) return false;
      tx.update(deploymentReplicas).set({ state: "failed", updatedAt: at }).where(and(eq(deploymentReplicas.deploymentId, row.id), eq(deploymentReplicas.state, "pending"))).run();
      tx.insert(deploymentEvents).values({ deploymentId: row.id, agentId: null, level: "error", message: `Cancelled by ${by}.`, at }).run();
      return true;
    });
    if (stopped) {
      log.info("deployment cancelled", { deployment: row.id, site: site.name });
      this.changed(row.id);
    }
    return this.info(this.db.select().from(deployments).where(eq(deployments.id, row.id)).get()!, site);
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

  /**
   * activate makes a deployment the site's desired production. One statement bumps the site's
   * generation and records the deployment; every replica that holds it gets an activation stamped
   * with that generation (nodes apply only activations newer than what they serve).
   */
  private activate(row: Row, site: SiteRow) {
    const { generation } = this.db
      .update(sitesTable)
      .set({ generation: sql`${sitesTable.generation} + 1`, desiredDeploymentId: row.id })
      .where(eq(sitesTable.id, site.id))
      .returning({ generation: sitesTable.generation })
      .get()!;
    for (const r of this.replicas(row.id))
      if (r.state === "staged" || r.state === "active") this.tasks.enqueue(r.agentId, { kind: "activate", site: site.name, deployment_id: row.id, generation });
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
    this.changed(deploymentId);
  }

  private watchers = new Set<(deploymentId: string) => void>();

  /**
   * watch calls `f` with a deployment's id each time a line is added to its log; every change of a
   * deployment's status comes with one. The admin UI's live views (Server-Sent Events) listen here
   * instead of polling. Answers the function that stops watching.
   */
  watch(f: (deploymentId: string) => void): () => void {
    this.watchers.add(f);
    return () => this.watchers.delete(f);
  }

  private changed(deploymentId: string) {
    for (const f of this.watchers) f(deploymentId);
  }

  info(row: Row, site: SiteRow): DeploymentInfo {
    return {
      id: row.id,
      site: site.name,
      status: row.status,
      production: row.production,
      is_production: site.productionDeploymentId === row.id,
      // Asked for production (deploy --prod, promote, rollback), ready, and production is another's
      // and will stay so: a newer change took its place (afterActive).
      superseded: (row.production || row.requestedAt !== null) && row.status === "ready" && site.desiredDeploymentId !== row.id && site.productionDeploymentId !== row.id,
      files_total: row.filesTotal,
      bytes_total: row.bytesTotal,
      files_uploaded: row.filesUploaded,
      bytes_uploaded: row.bytesUploaded,
      manifest_digest: row.manifestDigest,
      url: this.sites.servingUrl(site.id, productionHost(site.name, this.config.domain)),
      preview_url: this.sites.servingUrl(site.id, previewHost(row.id, site.name, this.config.domain)),
      error: row.error,
      message: row.message,
      created_at: row.createdAt,
      finished_at: row.finishedAt,
    };
  }
}

/** MAX_FOLLOW_WAIT_MS bounds one long poll of `follow` (well under the server's idle timeout). */
export const MAX_FOLLOW_WAIT_MS = 30_000;

/** describeSeconds says a duration the way the log reads it: "1 h", "90 s", "15 min". */
function describeSeconds(s: number): string {
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}
