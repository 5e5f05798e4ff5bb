import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { Deployments } from "./deployments";
import type { NginxShards } from "./nginx/shards";
import { fatalProblems, hasRules, rulesDigest, type RuleWarning, type RulesInput } from "./nginx/rules";
import { renderSiteInclude, type DeploymentRules } from "./nginx/site-include";
import { renderRulesData } from "./nginx/rules/rules-data";

/** UNUSED_RULES_GRACE_MS: a compiled rules file no deployment names is removed this long after it was written. */
const UNUSED_RULES_GRACE_MS = 10 * 60_000;

/**
 * SiteConfigurator keeps what nginx serves a site with in step with its deployments' `_redirects`,
 * `_headers`, netlify.toml and its settings. Two engines:
 * - "lua" (nginx's Lua module present): each deployment's rules become a data file that nginx's
 *   rules engine reads at request time (nginx/lua/sprout.lua): `sites/<site>/lua/<digest>.lua` and a
 *   link `sites/<site>/lua/<deployment>` to it. Nothing is reloaded, whatever the number of sites.
 * - "nginx": a site's own include of maps and servers (in its shard, see nginx/shards.ts), written
 *   only when its text changes, after `nginx -t` accepts it, with one (batched) reload of that shard.
 */
export class SiteConfigurator {
  constructor(
    private deployments: Deployments,
    private shards: NginxShards,
    private o: { dataDir: string; domain: () => string | null; secret: Uint8Array; workerGid: number | null; allowPrivateProxy: boolean; geoip: () => boolean; engine: "lua" | "nginx"; lua?: { validate: (file: string) => void } },
  ) {}

  /**
   * apply re-renders the site's include; answers the warnings of each deployment's rules files once
   * nginx serves with the result (so a deployment is never reported live before its rules are).
   */
  async apply(site: string, opts: { extra?: string; production?: string } = {}): Promise<Map<string, RuleWarning[]>> {
    const domain = this.o.domain();
    if (!domain) return new Map();
    const rec = this.deployments.record(site);
    const rules = (id: string): DeploymentRules => ({ id, rules: this.rulesOf(site, id, rec.settings.spa) });
    // `extra`: a deployment whose tree is built but not yet in place (staging, see Uploads.configure).
    const ids = [...new Set([...this.deployments.staged(site), ...(opts.extra ? [opts.extra] : [])])];
    // `production`: serve that deployment on the production host from its own tree, with its rules,
    // before `current` moves to it (activation of new rules, see TaskRunner).
    const prodId = opts.production ?? rec.production;
    const production = prodId && ids.includes(prodId) ? rules(prodId) : null;
    const filesDir = join(this.o.dataDir, "nginx", "auth");
    if (this.o.engine === "lua") return this.applyData(site, ids.map(rules), filesDir);
    const r = renderSiteInclude({
      site,
      domain,
      listen: this.shards.listenOf(site),
      sitesDir: this.deployments.sitesDir,
      filesDir,
      secret: this.o.secret,
      allowPrivateProxy: this.o.allowPrivateProxy,
      geoip: this.o.geoip(),
      production,
      productionRoot: opts.production ? `deploys/${opts.production}` : "current",
      deployments: ids.map(rules),
    });
    mkdirSync(filesDir, { recursive: true, mode: 0o750 });
    for (const f of r.files) this.writeForNginx(f.path, f.content);
    await this.shards.install(site, r.text);
    return r.warnings;
  }

  /**
   * applyData writes the Lua engine's data for each deployment of the site (see the class comment).
   * A file is named by its content and never changed; a deployment's link moves atomically, so a
   * request reads either the old rules or the new, whole. Files no link names go after a grace
   * period (a worker may have read the link and not yet the file).
   */
  private applyData(site: string, deployments: DeploymentRules[], filesDir: string): Map<string, RuleWarning[]> {
    const dir = join(this.deployments.sitesDir, site, "lua");
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    mkdirSync(filesDir, { recursive: true, mode: 0o750 });
    const warnings = new Map<string, RuleWarning[]>();
    const named = new Set<string>();
    const ids = new Set(deployments.map((d) => d.id));
    for (const d of deployments) {
      const link = join(dir, d.id);
      if (!hasRules(d.rules)) {
        rmSync(link, { force: true });
        warnings.set(d.id, []);
        continue;
      }
      const r = renderRulesData(d.rules, { filesDir, secret: this.o.secret, prefix: `sprout_${site.replace(/-/g, "_")}_${rulesDigest(d.rules).slice(0, 10)}`, allowPrivateProxy: this.o.allowPrivateProxy, geoip: this.o.geoip() });
      for (const f of r.files) this.writeForNginx(f.path, f.content);
      const file = join(dir, r.name);
      if (!existsSync(file)) {
        this.writeForNginx(`${file}.new`, r.text);
        try {
          this.o.lua!.validate(`${file}.new`);
        } catch (e) {
          rmSync(`${file}.new`, { force: true });
          throw e;
        }
        renameSync(`${file}.new`, file);
      }
      named.add(r.name);
      if (readLink(link) !== r.name) {
        rmSync(`${link}.tmp`, { force: true });
        symlinkSync(r.name, `${link}.tmp`);
        renameSync(`${link}.tmp`, link);
      }
      warnings.set(d.id, r.warnings);
    }
    for (const f of readdirSync(dir)) {
      const path = join(dir, f);
      if (f.endsWith(".lua")) {
        if (!named.has(f) && Date.now() - statSync(path).mtimeMs > UNUSED_RULES_GRACE_MS && ![...readdirSync(dir)].some((l) => readLink(join(dir, l)) === f)) rmSync(path, { force: true });
      } else if (!ids.has(f)) rmSync(path, { force: true });
    }
    return warnings;
  }

  /** writeForNginx writes a file nginx's workers read (their group) and nobody else, atomically. */
  private writeForNginx(path: string, content: string) {
    if (existsSync(path) && readFileSync(path, "utf8") === content) return;
    writeFileSync(`${path}.tmp`, content, { mode: 0o640 });
    chmodSync(`${path}.tmp`, 0o640);
    if (this.o.workerGid !== null) chownSync(`${path}.tmp`, 0, this.o.workerGid);
    renameSync(`${path}.tmp`, path);
  }

  /** hasOwnRules tells whether a staged deployment brings `_redirects`, `_headers`, netlify.toml or SPA. */
  hasOwnRules(site: string, id: string): boolean {
    return hasRules(this.rulesOf(site, id, this.deployments.record(site).settings.spa));
  }

  /** sameRules tells whether two deployments of a site are served with the same rules. */
  sameRules(site: string, a: string | null, b: string): boolean {
    const spa = this.deployments.record(site).settings.spa;
    const digest = (id: string | null) => (id ? rulesDigest(this.rulesOf(site, id, spa)) : rulesDigest({ redirects: null, headers: null, spa }));
    return digest(a) === digest(b);
  }

  /** problems lists the lines of a staged deployment's rules that must fail it (RuleWarning.fatal). */
  problems(site: string, id: string): RuleWarning[] {
    return fatalProblems(this.rulesOf(site, id, this.deployments.record(site).settings.spa));
  }

  /**
   * serial runs `fn` after every earlier piece of work on the same site's configuration: an
   * activation (render, reload, swap, render, reload) must not interleave with a preview's staging,
   * or files could be served under the other deployment's rules for a moment.
   */
  serial<T>(site: string, fn: () => Promise<T>): Promise<T> {
    const before = this.chains.get(site) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.then(() => {}, () => {});
    this.chains.set(site, tail);
    void tail.then(() => this.chains.get(site) === tail && this.chains.delete(site));
    return run;
  }

  private chains = new Map<string, Promise<void>>();

  /** applyAll re-renders every site (start-up, or when the domain changed). */
  async applyAll() {
    for (const site of this.deployments.sites()) await this.serial(site, () => this.apply(site));
  }

  private rulesOf(site: string, id: string, spa: boolean): RulesInput {
    const dir = this.deployments.rulesDir(site, id);
    const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : null);
    return { redirects: read("_redirects"), headers: read("_headers"), netlifyToml: read("netlify.toml"), spa };
  }
}


/** readLink answers where a symbolic link points, or null when there is none. */
function readLink(path: string): string | null {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : null;
  } catch {
    return null;
  }
}
