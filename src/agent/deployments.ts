import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { link } from "node:fs/promises";
import type { Manifest } from "../protocol/deployment";
import type { SiteSettings } from "../protocol/site";
import { SproutError, conflict } from "../shared/errors";
import { BlobStore, yieldToLoop } from "./blobs";
import { isCompressible } from "./compressible";
import { redactHeaders } from "./nginx/rules";
import { RULES_FILES, planTrees, type FolderPlan, type TreePlan } from "./trees";
import { Siblings, type PendingFile } from "./siblings";

export { RULES_FILES };

/** StageOptions: whose deployment it is, and the checks and steps staging runs at its points. */
export interface StageOptions {
  /** owner: the site's account; folder trees are shared only within one account (trees.ts). */
  owner?: string;
  /** usable: checks that the account may link these blobs (the ones staging links anew); throws if not. */
  usable?: (digests: string[]) => Promise<void>;
  /**
   * proved: blobs the caller verified and adopted for `owner` just now, under the deployment's lock
   * (an upload's files): present and usable, so staging does not ask about each of them again.
   */
  proved?: ReadonlySet<string>;
  /** beforePublish runs after the tree is built and before it takes its name (the site's nginx rules for it are installed there). */
  beforePublish?: () => Promise<void>;
}

/** SiteRecord is <data>/sites/<site>/site.json: what this node knows about a site. */
export interface SiteRecord {
  settings: SiteSettings;
  production: string | null;
  /** previous: the production deployment before `production`, kept by GC for a quick rollback. */
  previous: string | null;
  /** generation: of the master's desired state for this site that `production` belongs to. */
  generation?: number;
}

/**
 * Deployments owns `<data>/sites`: staging a deployment as folder trees of hard links into the blob
 * store, shared with the site's earlier deployments where folders did not change (trees.ts),
 * activating it with one atomic rename of a fresh `current` symlink, and collecting old ones.
 */
export class Deployments {
  readonly sitesDir: string;
  /** siblings makes the compressed forms of staged files after they are published. */
  readonly siblings: Siblings;

  constructor(
    dataDir: string,
    private blobs: BlobStore,
    private retain: number,
    private secret: Uint8Array,
  ) {
    this.sitesDir = join(dataDir, "sites");
    // 0711: nginx's workers pass through to the trees they serve but cannot list the sites.
    mkdirSync(this.sitesDir, { recursive: true, mode: 0o711 });
    this.siblings = new Siblings(dataDir, blobs, this.sitesDir);
    this.removeHalfStaged();
  }

  /** removeHalfStaged deletes what a crash left half built (`deploys/<id>.tmp-*`, `trees/<hash>.tmp-*`): never served, never finished. */
  private removeHalfStaged() {
    for (const site of this.sites()) {
      for (const sub of ["deploys", "trees"]) {
        const dir = join(this.sitesDir, site, sub);
        if (!existsSync(dir)) continue;
        for (const f of readdirSync(dir)) if (f.includes(".tmp-")) rmSync(join(dir, f), { recursive: true, force: true });
      }
    }
  }

  /** treesDir holds the site's folder trees, shared by its deployments (trees.ts). */
  treesDir(site: string) {
    return join(this.sitesDir, site, "trees");
  }

  /**
   * plan computes a deployment's folder trees and answers the folders this node must build: those
   * whose tree it does not hold yet. The others are reused as they are, blobs and all.
   */
  plan(site: string, manifest: Manifest, owner: string): { plan: TreePlan; build: FolderPlan[] } {
    const quarantined = this.blobs.quarantined();
    // An upload's init and its staging plan the same manifest object: hashed once, not twice.
    let memo = this.plans.get(manifest);
    if (!memo || memo.owner !== owner || memo.quarantined !== quarantined) {
      memo = { owner, quarantined, plan: planTrees(manifest, owner, quarantined) };
      this.plans.set(manifest, memo);
    }
    const plan = memo.plan;
    const dir = this.treesDir(site);
    return { plan, build: plan.folders.filter((f) => !existsSync(join(dir, f.hash))) };
  }

  /** plans: the folder trees of manifests planned lately, by manifest object (see plan). */
  private plans = new WeakMap<Manifest, { owner: string; quarantined: ReadonlyMap<string, string>; plan: TreePlan }>();

  /** pinned: trees that stagings in progress reuse or build; collection leaves them. */
  private pinned = new Map<string, number>();

  private pinTrees(site: string, hashes: string[]): () => void {
    const keys = hashes.map((h) => `${site}/${h}`);
    for (const k of keys) this.pinned.set(k, (this.pinned.get(k) ?? 0) + 1);
    return () => {
      for (const k of keys) {
        const n = (this.pinned.get(k) ?? 1) - 1;
        if (n > 0) this.pinned.set(k, n);
        else this.pinned.delete(k);
      }
    };
  }

  dir(site: string, id: string) {
    return join(this.sitesDir, site, "deploys", id);
  }

  /** rulesDir holds a deployment's `_redirects`, `_headers` and netlify.toml, beside (not in) its served tree. */
  rulesDir(site: string, id: string) {
    return join(this.sitesDir, site, "rules", id);
  }

  isStaged(site: string, id: string) {
    return existsSync(this.dir(site, id));
  }

  /**
   * stage makes `deploys/<id>`: a symlink to the deployment's root folder tree, made once every
   * folder tree exists. Trees this node lacks are built (each under a temporary name, then renamed,
   * so a half-built tree is never used), with the `.gz` and `.br` forms of compressible files that
   * the store holds already (the others are made after it is published: Siblings); the blobs they
   * link must be present, and `usable` is asked about them. Reused trees cost one `stat` each.
   */
  async stage(site: string, id: string, manifest: Manifest, opts: StageOptions = {}): Promise<{ files: number; gz: number; br: number; linked: number; reused: number; later: number }> {
    const final = this.dir(site, id);
    if (existsSync(final)) return { files: manifest.length, gz: 0, br: 0, linked: 0, reused: 0, later: 0 };
    const { plan, build } = this.plan(site, manifest, opts.owner ?? "");
    const unpin = this.pinTrees(site, plan.folders.map((f) => f.hash));
    const temps: string[] = [];
    let gz = 0;
    let linked = 0;
    let br = 0;
    let made = 0;
    /** later: files whose compressed forms are made after the deployment is published (Siblings). */
    const later: PendingFile[] = [];
    try {
      const entries = [...build.flatMap((f) => f.files), ...plan.rules];
      const proved = opts.proved;
      const digests = entries.map((e) => e.sha256).filter((d) => !proved?.has(d));
      const missing = this.blobs.missing(digests);
      if (missing.length) throw conflict("blobs_missing", `${missing.length} file(s) of deployment ${id} have not been uploaded yet.`);
      if (digests.length) await opts.usable?.(digests);
      const trees = this.treesDir(site);
      for (const d of [join(this.sitesDir, site), join(this.sitesDir, site, "deploys"), trees]) {
        mkdirSync(d, { recursive: true, mode: 0o711 });
        chmodSync(d, 0o711);
      }
      // Deepest first: a folder's subfolder trees exist before it does.
      for (const f of build) {
        const dest = join(trees, f.hash);
        if (existsSync(dest)) continue; // built meanwhile by another staging of this site
        const tmp = `${dest}.tmp-${randomBytes(4).toString("hex")}`;
        temps.push(tmp);
        mkdirSync(tmp, { mode: 0o755 });
        // A file or folder named like a sibling wins: the site's own `x.gz` or `x.br` is never replaced.
        const taken = new Set([...f.files.map((e) => e.path.slice(e.path.lastIndexOf("/") + 1)), ...f.dirs.map((d) => d.name)]);
        const links: [string, string][] = [];
        for (const e of f.files) {
          const name = e.path.slice(e.path.lastIndexOf("/") + 1);
          links.push([this.blobs.path(e.sha256), join(tmp, name)]);
          // Forms a blob already has (an earlier deploy made them) are linked now; the others are
          // made after the deployment is live (Siblings), nginx compressing on the fly until then.
          const compressible = isCompressible(name, e.size);
          const wantsGz = compressible && !taken.has(`${name}.gz`);
          const wantsBr = compressible && this.blobs.brotli && !taken.has(`${name}.br`);
          const g = wantsGz ? this.blobs.gzReady(e.sha256) : null;
          if (g) {
            links.push([g, join(tmp, `${name}.gz`)]);
            gz++;
          }
          const b = wantsBr ? this.blobs.brPath(e.sha256) : null;
          if (b) {
            links.push([b, join(tmp, `${name}.br`)]);
            br++;
          }
          if ((wantsGz && !g) || (wantsBr && !b)) later.push({ tree: f.hash, name, sha: e.sha256, gz: wantsGz && !g, br: wantsBr && !b });
        }
        for (const d of f.dirs) symlinkSync(`../${d.hash}`, join(tmp, d.name));
        // Links are made on this thread, yielding now and then: through the thread pool each link()
        // cost about twice the CPU (a promise and a hand-over per file), which on two cores shared
        // with the upload's CLI was slower, not faster.
        for (const [src, to] of links) {
          linkSync(src, to);
          if (++made % 1000 === 0) await yieldToLoop();
        }
        linked += f.files.length;
        try {
          renameSync(tmp, dest);
        } catch (e) {
          // Another staging of this site built the same folder first: its tree is as good.
          if (!existsSync(dest)) throw e;
          rmSync(tmp, { recursive: true, force: true });
        }
      }
      const plain: string[] = [];
      for (const e of plan.rules) {
        const dest = join(this.rulesDir(site, id), e.path);
        rmSync(dest, { force: true });
        // Rules sources (with Basic-Auth hashes) are the agent's alone; nginx reads compiled files.
        mkdirSync(dirname(dest), { recursive: true, mode: 0o700 });
        const redacted = e.path === "_headers" ? redactHeaders(readFileSync(this.blobs.path(e.sha256), "utf8"), this.secret) : null;
        if (redacted !== null) {
          // Basic-Auth passwords are kept only hashed; the plain upload is dropped below.
          writeFileSync(dest, redacted, { mode: 0o600 });
          plain.push(e.sha256);
        } else await link(this.blobs.path(e.sha256), dest);
      }
      const tmpLink = `${final}.tmp-${randomBytes(4).toString("hex")}`;
      temps.push(tmpLink);
      symlinkSync(`../trees/${plan.root}`, tmpLink);
      // nginx must know the deployment's rules before its files can be requested (its preview host
      // would otherwise be served with production's rules, Basic-Auth included or not).
      await opts.beforePublish?.();
      // Written down before the deployment is published: a crash after it still gets its forms.
      this.siblings.add(site, id, later);
      renameSync(tmpLink, final);
      for (const sha of plain) this.blobs.discard(sha, opts.owner ?? "");
    } catch (e) {
      for (const t of temps) rmSync(t, { recursive: true, force: true });
      // The rules belong to whichever attempt installed the tree: remove them only if none did.
      if (!existsSync(final)) rmSync(this.rulesDir(site, id), { recursive: true, force: true });
      throw e;
    } finally {
      unpin();
    }
    return { files: manifest.length, gz, br, linked, reused: plan.folders.length - build.length, later: later.length };
  }

  /** activate points `current` at a staged deployment: a new symlink renamed over the old one (atomic). */
  activate(site: string, id: string, generation?: number): { ms: number; previous: string | null } {
    const t0 = performance.now();
    if (!this.isStaged(site, id))
      throw new SproutError(409, "not_staged", `Deployment ${id} of site "${site}" is not staged on this node.`);
    const link = join(this.sitesDir, site, "current");
    const before = this.current(site);
    if (before !== id) {
      const tmp = `${link}.tmp-${randomBytes(4).toString("hex")}`;
      symlinkSync(join("deploys", id), tmp);
      renameSync(tmp, link);
    }
    const rec = this.record(site);
    const previous = before !== id ? before : rec.previous;
    this.writeRecord(site, { ...rec, production: id, previous, ...(generation !== undefined ? { generation } : {}) });
    return { ms: performance.now() - t0, previous };
  }

  /** staged lists the deployments of a site that are staged here. */
  staged(site: string): string[] {
    const dir = join(this.sitesDir, site, "deploys");
    return existsSync(dir) ? readdirSync(dir).filter((f) => !f.includes(".tmp-")) : [];
  }

  /** discard removes one deployment of a site (its tree and its rules). */
  discard(site: string, id: string) {
    rmSync(this.dir(site, id), { recursive: true, force: true });
    rmSync(this.rulesDir(site, id), { recursive: true, force: true });
  }

  current(site: string): string | null {
    try {
      return readlinkSync(join(this.sitesDir, site, "current")).split("/").pop() ?? null;
    } catch {
      return null;
    }
  }

  record(site: string): SiteRecord {
    const p = join(this.sitesDir, site, "site.json");
    if (!existsSync(p)) return { settings: { spa: false }, production: this.current(site), previous: null };
    return JSON.parse(readFileSync(p, "utf8")) as SiteRecord;
  }

  writeRecord(site: string, rec: SiteRecord) {
    mkdirSync(join(this.sitesDir, site), { recursive: true, mode: 0o711 });
    const p = join(this.sitesDir, site, "site.json");
    writeFileSync(`${p}.tmp`, JSON.stringify(rec, null, 2), { mode: 0o600 });
    renameSync(`${p}.tmp`, p);
  }

  sites(): string[] {
    return existsSync(this.sitesDir) ? readdirSync(this.sitesDir) : [];
  }

  deleteSite(site: string) {
    rmSync(join(this.sitesDir, site), { recursive: true, force: true });
  }

  /**
   * collect keeps, per site, the production deployment, the one before it and the newest `retain`
   * others (preview URLs keep working for those), removes the rest, then the folder trees no kept
   * deployment (nor a staging in progress) reaches, then unreferenced blobs (except `keep`: those
   * of pending uploads).
   */
  collect(keep?: ReadonlySet<string>): { deployments: number; trees: number; blobs: number } {
    let removed = 0;
    let trees = 0;
    for (const site of this.sites()) {
      const dir = join(this.sitesDir, site, "deploys");
      if (!existsSync(dir)) continue;
      const rec = this.record(site);
      const keep = new Set([rec.production, rec.previous, this.current(site)].filter(Boolean) as string[]);
      // lstat: the age of the deployment's own link, not of a tree it may share with others.
      const ids = readdirSync(dir)
        .filter((f) => !f.includes(".tmp-"))
        .map((id) => ({ id, at: lstatSync(join(dir, id)).mtimeMs }))
        .sort((a, b) => b.at - a.at);
      let kept = 0;
      for (const { id } of ids) {
        if (keep.has(id)) continue;
        if (kept < this.retain) {
          kept++;
          continue;
        }
        rmSync(join(dir, id), { recursive: true, force: true });
        rmSync(this.rulesDir(site, id), { recursive: true, force: true });
        removed++;
      }
      trees += this.collectTrees(site);
    }
    return { deployments: removed, trees, blobs: removed || trees ? this.blobs.collect(keep) : 0 };
  }

  /** collectTrees removes the site's folder trees that no deployment and no staging reaches. */
  private collectTrees(site: string): number {
    const dir = this.treesDir(site);
    if (!existsSync(dir)) return 0;
    const reached = new Set<string>();
    const visit = (hash: string) => {
      if (reached.has(hash)) return;
      reached.add(hash);
      let entries;
      try {
        entries = readdirSync(join(dir, hash), { withFileTypes: true });
      } catch {
        return; // missing: the next staging that needs it builds it
      }
      for (const e of entries) if (e.isSymbolicLink()) visit(basename(readlinkSync(join(dir, hash, e.name))));
    };
    const deploys = join(this.sitesDir, site, "deploys");
    for (const id of existsSync(deploys) ? readdirSync(deploys) : []) {
      try {
        visit(basename(readlinkSync(join(deploys, id))));
      } catch {
        /* a tree of its own (staged by an older version), or a half-made link: reaches no shared tree */
      }
    }
    for (const k of this.pinned.keys()) if (k.startsWith(`${site}/`)) visit(k.slice(site.length + 1));
    let removed = 0;
    for (const f of readdirSync(dir)) {
      if (f.includes(".tmp-") || reached.has(f)) continue;
      rmSync(join(dir, f), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }
}
