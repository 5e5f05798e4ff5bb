import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { link } from "node:fs/promises";
import type { Manifest } from "../protocol/deployment";
import type { SiteSettings } from "../protocol/site";
import { SproutError, conflict } from "../shared/errors";
import { BlobStore } from "./blobs";
import { isCompressible } from "./compressible";
import { redactHeaders } from "./nginx/rules";

/**
 * RULES_FILES are the files at a deployment's root that configure serving (Netlify syntax; of
 * netlify.toml only `[[redirects]]` and `[[headers]]` are read). They are linked into
 * `sites/<site>/rules/<id>/`, outside the served tree, so no request can fetch them and nginx needs
 * no per-request rule to hide them.
 */
export const RULES_FILES = new Set(["_redirects", "_headers", "netlify.toml"]);

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
 * Deployments owns `<data>/sites`: staging a deployment as a tree of hard links into the blob store,
 * activating it with one atomic rename of a fresh `current` symlink, and collecting old ones.
 */
export class Deployments {
  readonly sitesDir: string;

  constructor(
    dataDir: string,
    private blobs: BlobStore,
    private retain: number,
    private secret: Uint8Array,
  ) {
    this.sitesDir = join(dataDir, "sites");
    // 0711: nginx's workers pass through to the trees they serve but cannot list the sites.
    mkdirSync(this.sitesDir, { recursive: true, mode: 0o711 });
    this.removeHalfStaged();
  }

  /** removeHalfStaged deletes trees a crash left half built (`deploys/<id>.tmp-*`): never served, never finished. */
  private removeHalfStaged() {
    for (const site of this.sites()) {
      const dir = join(this.sitesDir, site, "deploys");
      if (!existsSync(dir)) continue;
      for (const f of readdirSync(dir)) if (f.includes(".tmp-")) rmSync(join(dir, f), { recursive: true, force: true });
    }
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
   * stage links every file of the manifest into `deploys/<id>` (built under a temporary name, then
   * renamed, so a half-built tree is never served), with `.gz` siblings for compressible files, and
   * `.br` siblings for those whose brotli form is ready; the others get theirs linked into the tree
   * once made (never waited for: see BlobStore.brotliLater). Every blob must be present.
   * `beforePublish` runs after the tree is built and before it takes its name (the site's nginx
   * rules for it are installed there).
   */
  async stage(site: string, id: string, manifest: Manifest, beforePublish?: () => Promise<void>): Promise<{ files: number; gz: number; br: number }> {
    const final = this.dir(site, id);
    if (existsSync(final)) return { files: manifest.length, gz: 0, br: 0 };
    const missing = this.blobs.missing(manifest.map((e) => e.sha256));
    if (missing.length) throw conflict("blobs_missing", `${missing.length} file(s) of deployment ${id} have not been uploaded yet.`);
    const tmp = `${final}.tmp-${randomBytes(4).toString("hex")}`;
    mkdirSync(tmp, { recursive: true, mode: 0o755 });
    for (const d of [join(this.sitesDir, site), join(this.sitesDir, site, "deploys")]) chmodSync(d, 0o711);
    let gz = 0;
    let br = 0;
    /** brLater: files whose `.br` is still being made, linked into the published tree when ready. */
    const brLater: { sha: string; path: string }[] = [];
    try {
      const paths = new Set(manifest.map((e) => e.path));
      // A file named like a sibling wins: the site's own `x.gz` or `x.br` is never replaced.
      const wants = (e: Manifest[number], ext: string) => isCompressible(e.path, e.size) && !paths.has(`${e.path}${ext}`) && !RULES_FILES.has(e.path);
      // Compressed siblings first, all at once on the thread pool (most are ready from the upload).
      const gzOf = new Map<string, string | null>();
      await Promise.all(manifest.filter((e) => wants(e, ".gz")).map(async (e) => gzOf.set(e.sha256, await this.blobs.gzPath(e.sha256))));
      const made = new Set<string>();
      const plain: string[] = [];
      // Links are made many at a time on the thread pool: one by one, 15,000 link() calls take
      // about twice as long on two cores.
      const links: [string, string][] = [];
      for (const e of manifest) {
        const dest = RULES_FILES.has(e.path) ? join(this.rulesDir(site, id), e.path) : join(tmp, e.path);
        if (RULES_FILES.has(e.path)) rmSync(dest, { force: true });
        const parent = dirname(dest);
        if (!made.has(parent)) {
          // Rules sources (with Basic-Auth hashes) are the agent's alone; nginx reads compiled files.
          mkdirSync(parent, { recursive: true, mode: RULES_FILES.has(e.path) ? 0o700 : 0o755 });
          made.add(parent);
        }
        const redacted = e.path === "_headers" ? redactHeaders(readFileSync(this.blobs.path(e.sha256), "utf8"), this.secret) : null;
        if (redacted !== null) {
          // Basic-Auth passwords are kept only hashed; the plain upload is dropped below.
          writeFileSync(dest, redacted, { mode: 0o600 });
          plain.push(e.sha256);
          continue;
        }
        links.push([this.blobs.path(e.sha256), dest]);
        const g = gzOf.get(e.sha256);
        if (g && wants(e, ".gz")) {
          links.push([g, `${dest}.gz`]);
          gz++;
        }
        if (this.blobs.brotli && wants(e, ".br")) {
          const b = this.blobs.brPath(e.sha256);
          if (b) {
            links.push([b, `${dest}.br`]);
            br++;
          } else brLater.push({ sha: e.sha256, path: e.path });
        }
      }
      for (let i = 0; i < links.length; i += 256) await Promise.all(links.slice(i, i + 256).map(([src, dest]) => link(src, dest)));
      // nginx must know the deployment's rules before its files can be requested (its preview host
      // would otherwise be served with production's rules, Basic-Auth included or not).
      await beforePublish?.();
      renameSync(tmp, final);
      for (const sha of plain) this.blobs.discard(sha);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      // The rules belong to whichever attempt installed the tree: remove them only if none did.
      if (!existsSync(final)) rmSync(this.rulesDir(site, id), { recursive: true, force: true });
      throw e;
    }
    void this.linkBrotliLater(final, brLater);
    return { files: manifest.length, gz, br };
  }

  /**
   * linkBrotliLater adds each `.br` sibling to a published tree as its blob's brotli form is made.
   * Adding a file beside one being served is safe (nginx opens `x.br` or `x` per request); a tree
   * removed meanwhile (collected, site deleted) just gets nothing.
   */
  private async linkBrotliLater(tree: string, files: { sha: string; path: string }[]) {
    await Promise.all(
      files.map(async (f) => {
        const br = await this.blobs.brotliLater(f.sha);
        if (br) await link(br, join(tree, `${f.path}.br`)).catch(() => {});
      }),
    );
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
   * others (preview URLs keep working for those), removes the rest, then unreferenced blobs
   * (except `keep`: those of pending uploads).
   */
  collect(keep?: ReadonlySet<string>): { deployments: number; blobs: number } {
    let removed = 0;
    for (const site of this.sites()) {
      const dir = join(this.sitesDir, site, "deploys");
      if (!existsSync(dir)) continue;
      const rec = this.record(site);
      const keep = new Set([rec.production, rec.previous, this.current(site)].filter(Boolean) as string[]);
      const ids = readdirSync(dir)
        .filter((f) => !f.includes(".tmp-"))
        .map((id) => ({ id, at: statSync(join(dir, id)).mtimeMs }))
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
    }
    return { deployments: removed, blobs: removed ? this.blobs.collect(keep) : 0 };
  }
}
