import type { Task } from "../protocol/agent";
import { SproutError } from "../shared/errors";
import { secureFetch } from "../shared/tls";
import { logger } from "../shared/log";
import { rmSync } from "node:fs";
import { diskFullAs } from "./disk";
import type { BlobStore } from "./blobs";
import type { Deployments } from "./deployments";
import type { MasterLink } from "./master-link";
import type { NginxShards } from "./nginx/shards";
import type { Uploads } from "./uploads";
import type { SiteConfigurator } from "./site-config";

const log = logger("agent");

/** TaskRunner applies the master's tasks. Each is idempotent: applying one twice does no harm. */
export class TaskRunner {
  private gcTimer: ReturnType<typeof setTimeout> | null = null;
  /** Old previews are collected hourly too, not only after a production activation. */
  private gcInterval = setInterval(() => this.scheduleGc(), 3600_000);

  constructor(
    private deployments: Deployments,
    private blobs: BlobStore,
    private uploads: Uploads,
    private shards: NginxShards,
    private link: MasterLink,
    private siteConfig: SiteConfigurator,
    /** uploadTtlMs: how long an upload record (and the blobs it keeps) lives before it expires. */
    private uploadTtlMs: number,
    /** node: this node's name, for errors users see. */
    private node: string,
  ) {}

  async apply(task: Task): Promise<void> {
    switch (task.kind) {
      case "activate": {
        const rec = this.deployments.record(task.site);
        const applied = rec.generation ?? 0;
        if (task.generation < applied || (task.generation === applied && rec.production !== task.deployment_id)) {
          // Re-sent or late: the site has moved on since. Applying it would move this node backwards.
          log.info("ignored an activation older than what this node serves", { site: task.site, generation: task.generation, serving: applied });
          return;
        }
        let message = "Already serving it.";
        if (task.generation > applied || this.deployments.current(task.site) !== task.deployment_id) {
          const ms = await this.siteConfig.serial(task.site, () => this.goLive(task.site, task.deployment_id, task.generation));
          message = `Activated in ${ms.toFixed(1)} ms.`;
          this.scheduleGc();
        }
        this.link.report({ deployment_id: task.deployment_id, phase: "active", message, generation: task.generation });
        return;
      }
      case "stage": {
        const digests = task.manifest.map((e) => e.sha256);
        if (this.deployments.isStaged(task.site, task.deployment_id)) {
          this.blobs.owners.add(task.owner, digests);
          this.link.report({ deployment_id: task.deployment_id, phase: "staged", message: "Already staged." });
          return;
        }
        const unpin = this.blobs.pin(digests);
        try {
          // Reused blobs are checked first: a corrupt one is fetched again from the peer.
          await this.blobs.verify(digests);
          // Folders whose tree this node already holds for the account need nothing (trees.ts).
          const { plan, build } = this.deployments.plan(task.site, task.manifest, task.owner);
          const need = [...build.flatMap((f) => f.files), ...plan.rules].map((e) => e.sha256);
          await this.fetchFromPeers(need, task.peers, task.peer_token, task.peer_pins ?? []);
          // The master vouches for the account: a node verified these bytes when the account uploaded them.
          this.blobs.owners.add(task.owner, need);
          await this.uploads.stage(task.site, task.deployment_id, task.manifest, task.production, task.owner);
        } finally {
          unpin();
        }
        return;
      }
      case "sync_site": {
        const rec = this.deployments.record(task.site);
        this.deployments.writeRecord(task.site, { ...rec, settings: task.settings });
        await this.siteConfig.serial(task.site, () => this.siteConfig.apply(task.site));
        return;
      }
      case "delete_site": {
        // The site's files go, then at once every blob no other deployment links (nor a pending
        // upload of another site keeps), with its upload records: deleting a site frees its disk.
        this.deployments.deleteSite(task.site);
        await this.shards.install(task.site, null);
        this.uploads.expire(this.uploadTtlMs, task.site);
        const blobs = this.blobs.collect(this.uploads.keepDigests());
        log.info("site deleted", { site: task.site, blobs });
        return;
      }
      case "gc": {
        const r = this.deployments.collect(this.uploads.keepDigests());
        log.info("garbage collected", r);
        return;
      }
    }
  }

  /**
   * goLive makes a staged deployment production with its rules. New files and new rules must go
   * live together: a file protected only by the new rules must never be served under the old ones.
   * So with new rules, the production host is first served from the new tree with its rules (one
   * reload), then `current` moves, then the host goes back to `current` (same files, same rules).
   * Without rules of its own, the deployment takes `current` first: its files are served under the
   * old rules (at worst more strictly) until the reload drops them. Same rules: the swap alone.
   */
  private async goLive(site: string, id: string, generation: number): Promise<number> {
    if (!this.siteConfig.sameRules(site, this.deployments.current(site), id) && this.siteConfig.hasOwnRules(site, id))
      await this.siteConfig.apply(site, { production: id });
    const { ms } = this.deployments.activate(site, id, generation);
    await this.siteConfig.apply(site);
    return ms;
  }

  /**
   * fetchFromPeers pulls missing blobs from nodes that hold them, verifying each digest. Each request
   * carries the master's peer token: the peer answers only blobs the deployment's account holds.
   */
  private async fetchFromPeers(digests: string[], peers: string[], peerToken: string, pins: (string | null)[]) {
    for (const sha of this.blobs.missing(digests)) {
      let ok = false;
      for (const [i, peer] of peers.entries()) {
        // The peer token goes only to the node the master named, checked by its certificate's pin.
        const res = await secureFetch(`${peer}/api/blob/${sha}`, { headers: { authorization: `Bearer ${peerToken}` } }, pins[i]).catch(() => null);
        if (!res?.ok) continue;
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (new Bun.CryptoHasher("sha256").update(bytes).digest("hex") !== sha) continue;
        const tmp = this.blobs.tmpPath();
        try {
          await Bun.write(tmp, bytes);
          this.blobs.adopt(tmp, sha);
        } catch (e) {
          rmSync(tmp, { force: true });
          throw diskFullAs(this.node, e);
        }
        ok = true;
        break;
      }
      if (!ok) throw new SproutError(502, "peer_fetch_failed", `No peer could provide blob ${sha.slice(0, 12)}.`);
    }
  }

  /**
   * sweepUploads expires abandoned uploads (records older than the upload TTL) and collects the
   * blobs only they kept. The agent runs it on a timer.
   */
  sweepUploads() {
    try {
      if (!this.uploads.expire(this.uploadTtlMs)) return;
      const blobs = this.blobs.collect(this.uploads.keepDigests());
      log.info("expired abandoned uploads", { blobs });
    } catch (e) {
      log.warn("expiring uploads failed", { error: (e as Error).message });
    }
  }

  /** scheduleGc collects once a few seconds after the last activation, not on every one. */
  private scheduleGc() {
    if (this.gcTimer) clearTimeout(this.gcTimer);
    this.gcTimer = setTimeout(() => {
      this.gcTimer = null;
      try {
        const r = this.deployments.collect(this.uploads.keepDigests());
        if (r.deployments) log.info("garbage collected", r);
      } catch (e) {
        log.warn("garbage collection failed", { error: (e as Error).message });
      }
    }, 5000);
  }

  stop() {
    clearInterval(this.gcInterval);
    if (this.gcTimer) clearTimeout(this.gcTimer);
  }
}
