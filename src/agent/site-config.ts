import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { Deployments } from "./deployments";
import type { NginxProcess } from "./nginx/process";
import type { RuleWarning, RulesInput } from "./nginx/rules";
import { renderSiteInclude, type DeploymentRules } from "./nginx/site-include";

/**
 * SiteConfigurator keeps a site's own nginx include in step with its deployments' `_redirects` and
 * `_headers` and its settings. It writes the include only when its text changes, after `nginx -t`
 * accepts it, and asks for one (batched) reload then; otherwise nginx is left alone.
 */
export class SiteConfigurator {
  constructor(
    private deployments: Deployments,
    private nginx: NginxProcess,
    private o: { dataDir: string; listen: string; domain: () => string | null; secret: Uint8Array; workerGid: number | null; allowPrivateProxy: boolean },
  ) {}

  /**
   * apply re-renders the site's include; answers the warnings of each deployment's rules files once
   * nginx serves with the result (so a deployment is never reported live before its rules are).
   */
  async apply(site: string, opts: { check?: string } = {}): Promise<Map<string, RuleWarning[]>> {
    const domain = this.o.domain();
    if (!domain) return new Map();
    const rec = this.deployments.record(site);
    const rules = (id: string): DeploymentRules => ({ id, rules: this.rulesOf(site, id, rec.settings.spa) });
    const ids = this.deployments.staged(site);
    // `check`: render as if that deployment were production, test it, install nothing.
    const prodId = opts.check ?? rec.production;
    const production = prodId && ids.includes(prodId) ? rules(prodId) : null;
    const filesDir = join(this.o.dataDir, "nginx", "auth");
    const r = renderSiteInclude({
      site,
      domain,
      listen: this.o.listen,
      sitesDir: this.deployments.sitesDir,
      filesDir,
      secret: this.o.secret,
      allowPrivateProxy: this.o.allowPrivateProxy,
      production,
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
    if (opts.check) this.nginx.testSiteInclude(site, r.text);
    else if (this.nginx.writeSiteInclude(site, r.text)) await this.nginx.reload();
    return r.warnings;
  }

  /** applyAll re-renders every site (start-up, or when the domain changed). */
  async applyAll() {
    for (const site of this.deployments.sites()) await this.apply(site);
  }

  private rulesOf(site: string, id: string, spa: boolean): RulesInput {
    const dir = this.deployments.rulesDir(site, id);
    const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), "utf8") : null);
    return { redirects: read("_redirects"), headers: read("_headers"), spa };
  }
}

