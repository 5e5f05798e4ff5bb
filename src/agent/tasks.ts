import type { Task } from "../protocol/agent";
import { SproutError } from "../shared/errors";
import { logger } from "../shared/log";
import type { BlobStore } from "./blobs";
import type { Deployments } from "./deployments";
import type { MasterLink } from "./master-link";
import type { NginxProcess } from "./nginx/process";
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
    private nginx: NginxProcess,
    private link: MasterLink,
    private siteConfig: SiteConfigurator,
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
          const { ms } = this.deployments.activate(task.site, task.deployment_id, task.generation);
          // Production's rules go with it; nginx reloads only if they differ from the last production's.
          await this.siteConfig.apply(task.site);
          message = `Activated in ${ms.toFixed(1)} ms.`;
          this.scheduleGc();
        }
        this.link.report({ deployment_id: task.deployment_id, phase: "active", message, generation: task.generation });
        return;
      }
      case "stage": {
        if (!this.deployments.isStaged(task.site, task.deployment_id)) {
          await this.fetchFromPeers(task.manifest.map((e) => e.sha256), task.peers);
          await this.uploads.stage(task.site, task.deployment_id, task.manifest, task.production);
        } else {
          this.link.report({ deployment_id: task.deployment_id, phase: "staged", message: "Already staged." });
        }
        return;
      }
      case "sync_site": {
        const rec = this.deployments.record(task.site);
        this.deployments.writeRecord(task.site, { ...rec, settings: task.settings });
        await this.siteConfig.apply(task.site);
        return;
      }
      case "delete_site": {
        this.deployments.deleteSite(task.site);
        if (this.nginx.writeSiteInclude(task.site, null)) await this.nginx.reload();
        this.scheduleGc();
        return;
      }
      case "gc": {
        const r = this.deployments.collect();
        log.info("garbage collected", r);
        return;
      }
    }
  }

  /** fetchFromPeers pulls missing blobs from nodes that hold them, verifying each digest. */
  private async fetchFromPeers(digests: string[], peers: string[]) {
    for (const sha of this.blobs.missing(digests)) {
      let ok = false;
      for (const peer of peers) {
        const res = await fetch(`${peer}/api/blob/${sha}`).catch(() => null);
        if (!res?.ok) continue;
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (new Bun.CryptoHasher("sha256").update(bytes).digest("hex") !== sha) continue;
        const tmp = this.blobs.tmpPath();
        await Bun.write(tmp, bytes);
        this.blobs.adopt(tmp, sha);
        ok = true;
        break;
      }
      if (!ok) throw new SproutError(502, "peer_fetch_failed", `No peer could provide blob ${sha.slice(0, 12)}.`);
    }
  }

  /** scheduleGc collects once a few seconds after the last activation, not on every one. */
  private scheduleGc() {
    if (this.gcTimer) clearTimeout(this.gcTimer);
    this.gcTimer = setTimeout(() => {
      this.gcTimer = null;
      try {
        const r = this.deployments.collect();
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
