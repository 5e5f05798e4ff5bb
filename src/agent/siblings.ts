import { existsSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StatusReport } from "../protocol/deployment";
import { logger } from "../shared/log";
import type { BlobStore } from "./blobs";

const log = logger("agent");

/**
 * PendingFile: a file of a staged folder tree whose compressed forms were not made yet when it was
 * staged: its tree (`sites/<site>/trees/<tree>/<name>`), its blob, and which siblings it wants.
 */
export interface PendingFile {
  tree: string;
  name: string;
  sha: string;
  gz: boolean;
  br: boolean;
}

/** Marker is `<data>/siblings/<site>~<deployment>.json`: a staged deployment's files awaiting their forms. */
interface Marker {
  site: string;
  id: string;
  /** at: when it was staged (ms since the epoch), for the log's "ready N s after staging". */
  at: number;
  files: PendingFile[];
}

/**
 * Siblings makes the `.gz` and `.br` forms of a deployment's compressible files after it was staged,
 * and links each into its folder tree as it is made, so compressing never delays a deploy: until
 * a file's `.gz` is there, nginx compresses it on the fly (gzip_static falls back to `gzip on`),
 * and until its `.br` is there, brotli clients get gzip. Each form is made once per blob
 * (BlobStore.gzLater, brotliLater) and only while no upload or staging runs.
 *
 * What is pending is written down before the deployment is published (one small file per
 * deployment), so an agent killed before the forms are made makes them after its restart
 * (`resume`) rather than serving the deployment without them for good. gzip forms come first
 * (a second or so for a site), brotli's after (quality 11: minutes for a large site); the
 * deployment's log says when each is complete.
 */
export class Siblings {
  private dir: string;
  /** lanes: deployments waiting for their gzip forms, then for their brotli forms (see run). */
  private lanes = { gz: { queue: [] as Marker[], running: false }, br: { queue: [] as Marker[], running: false } };
  /** queued: markers in a queue (by file name), so none is queued twice. */
  private queued = new Set<string>();
  /** report sends a line to the deployment's log (set by the agent once it can reach the master). */
  report: (r: StatusReport) => void = () => {};
  /** idle resolves when both queues are empty (tests, and benches that must not time this work). */
  private waiters: (() => void)[] = [];

  constructor(dataDir: string, private blobs: BlobStore, private sitesDir: string) {
    this.dir = join(dataDir, "siblings");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /**
   * add writes down a deployment's pending files and queues them. It runs before the deployment is
   * published: a crash after it leaves a marker (done again at start), never a deployment that
   * silently lacks its forms.
   */
  add(site: string, id: string, files: PendingFile[]) {
    if (!files.length) return;
    const m: Marker = { site, id, at: Date.now(), files };
    writeFileSync(this.path(site, id), JSON.stringify(m), { mode: 0o600 });
    this.queue(m);
  }

  /** resume queues what an earlier run of the agent left pending. */
  resume() {
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith(".json")) continue;
      try {
        this.queue(JSON.parse(readFileSync(join(this.dir, f), "utf8")) as Marker);
      } catch {
        rmSync(join(this.dir, f), { force: true }); // cut short by a crash while written: its deployment was never published
      }
    }
  }

  /** pending counts the files still waiting for a form (for tests and status). */
  pending(): number {
    return [...this.lanes.gz.queue, ...this.lanes.br.queue].reduce((n, m) => n + m.files.length, 0);
  }

  /** idle resolves once nothing is pending. */
  idle(): Promise<void> {
    return this.pending() ? new Promise((r) => this.waiters.push(r)) : Promise.resolve();
  }

  private queue(m: Marker) {
    const key = this.path(m.site, m.id);
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.lanes.gz.queue.push(m);
    void this.run("gz");
  }

  /**
   * run works through one kind of form, deployment by deployment: a deployment's gzip forms done,
   * it goes on to the brotli lane; its brotli forms done, its marker goes.
   */
  private async run(kind: "gz" | "br") {
    const lane = this.lanes[kind];
    if (lane.running) return;
    lane.running = true;
    try {
      while (lane.queue.length) {
        const m = lane.queue[0]!;
        const n = kind === "br" && !this.blobs.brotli ? 0 : await this.linkAll(m, kind);
        if (n) this.log(m, `${kind === "gz" ? "gzip" : "brotli"} forms of ${n} file${n === 1 ? "" : "s"} ready`);
        lane.queue.shift();
        if (kind === "gz") {
          this.lanes.br.queue.push(m);
          void this.run("br");
        } else {
          rmSync(this.path(m.site, m.id), { force: true });
          this.queued.delete(this.path(m.site, m.id));
        }
      }
    } finally {
      lane.running = false;
      if (!this.pending()) for (const w of this.waiters.splice(0)) w();
    }
  }

  /**
   * linkAll makes one kind of form for a deployment's pending files and links each into its tree;
   * answers how many it linked. A tree removed meanwhile (collected, its site deleted) gets nothing.
   */
  private async linkAll(m: Marker, kind: "gz" | "br"): Promise<number> {
    const trees = join(this.sitesDir, m.site, "trees");
    if (!existsSync(trees)) return 0;
    let n = 0;
    for (const f of m.files) {
      if (!f[kind]) continue;
      // Pinned: collection leaves the blob and its forms alone until the form is linked.
      const unpin = this.blobs.pin([f.sha]);
      try {
        const made = kind === "gz" ? await this.blobs.gzLater(f.sha) : await this.blobs.brotliLater(f.sha);
        if (!made) continue;
        linkSync(made, join(trees, f.tree, `${f.name}.${kind}`));
        n++;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EEXIST") n++; // linked before a restart
        else if (code !== "ENOENT") log.warn(`could not link a ${kind} form`, { site: m.site, error: (e as Error).message });
      } finally {
        unpin();
      }
    }
    return n;
  }

  private log(m: Marker, what: string) {
    this.report({ deployment_id: m.id, phase: "log", message: `${what} (${((Date.now() - m.at) / 1000).toFixed(1)} s after staging).` });
  }

  private path(site: string, id: string) {
    return join(this.dir, `${site}~${id}.json`);
  }
}
