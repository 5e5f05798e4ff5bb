import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { Deployments } from "./deployments";
import type { NginxShards } from "./nginx/shards";
import { fatalProblems, hasRules, rulesDigest, type RuleWarning, type RulesInput } from "./nginx/rules";
import { renderSiteInclude, type DeploymentRules } from "./nginx/site-include";

/**
 * SiteConfigurator keeps a site's own nginx include in step with its deployments' `_redirects` and
 * `_headers` and its settings. It writes the include (in the site's shard, see nginx/shards.ts) only
 * when its text changes, after `nginx -t` accepts it, and asks for one (batched) reload of that
 * shard then; otherwise nginx is left alone.
 */
export class SiteConfigurator {
  constructor(
    private deployments: Deployments,
    private shards: NginxShards,
    private o: { dataDir: string; domain: () => string | null; secret: Uint8Array; workerGid: number | null; allowPrivateProxy: boolean; geoip: () => boolean },
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
    // htpasswd files: readable by nginx's workers (their group) and nobody else.
    mkdirSync(filesDir, { recursive: true, mode: 0o750 });
    for (const f of r.files) {
      if (existsSync(f.path) && readFileSync(f.path, "utf8") === f.content) continue;
      writeFileSync(`${f.path}.tmp`, f.content, { mode: 0o640 });
      chmodSync(`${f.path}.tmp`, 0o640);
      if (this.o.workerGid !== null) chownSync(`${f.path}.tmp`, 0, this.o.workerGid);
      renameSync(`${f.path}.tmp`, f.path);
    }
    await this.shards.install(site, r.text);
    return r.warnings;
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

