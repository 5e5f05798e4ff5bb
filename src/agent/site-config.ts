import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { nanoid } from "nanoid";
import type { Deployments } from "./deployments";
import type { NginxShards } from "./nginx/shards";
import { fatalProblems, hasRules, rulesDigest, type RuleWarning, type RulesInput } from "./nginx/rules";
import { renderSiteInclude, type DeploymentRules } from "./nginx/site-include";
import { renderRulesData, rulesDataName } from "./nginx/rules/rules-data";
import { logger } from "../shared/log";

const log = logger("agent");

/** UNUSED_RULES_GRACE_MS: how long a compiled rules file no link names, or the link of a deployment gone, is kept. */
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
    private o: { dataDir: string; domain: () => string | null; secret: Uint8Array; workerGid: number | null; allowPrivateProxy: boolean; geoip: () => boolean; engine: "lua" | "nginx"; lua?: { validate: (file: string) => Promise<void> } },
  ) {}

  /**
   * apply re-renders the site's include; answers the warnings of each deployment's rules files once
   * nginx serves with the result (so a deployment is never reported live before its rules are).
   */
  async apply(site: string, opts: { extra?: string; production?: string } = {}): Promise<Map<string, RuleWarning[]>> {
    const domain = this.o.domain();
    // Includes name the domain; the Lua engine's data does not (and every deployment needs its link).
    if (!domain && this.o.engine !== "lua") return new Map();
    const rec = this.deployments.record(site);
    const rules = (id: string): DeploymentRules => ({ id, rules: this.rulesOf(site, id, rec.settings.spa) });
    // `extra`: a deployment whose tree is built but not yet in place (staging, see Uploads.configure).
    const ids = [...new Set([...this.deployments.staged(site), ...(opts.extra ? [opts.extra] : [])])];
    const filesDir = join(this.o.dataDir, "nginx", "auth");
    if (this.o.engine === "lua") return this.applyData(site, ids.map(rules), filesDir, opts.extra);
    // `production`: serve that deployment on the production host from its own tree, with its rules,
    // before `current` moves to it (activation of new rules, see TaskRunner). The Lua engine needs
    // none of this: it reads `current` per request.
    const prodId = opts.production ?? rec.production;
    const production = prodId && ids.includes(prodId) ? rules(prodId) : null;
    const r = renderSiteInclude({
      site,
      domain: domain!,
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
   * applyData writes the Lua engine's data for each deployment of the site (see the class comment):
   * every staged deployment gets a link, to its compiled rules or to "none" (nginx answers 503 for a
   * deployment without one: never its files without their rules). A rules file is named by what
   * goes into it and never changed, so a deployment whose link already names its file costs no
   * compiling; a link moves atomically, so a request reads the old rules or the new, whole. What no
   * deployment names any more goes after a grace period (a worker may have read a link and not yet
   * its file; a deployment being staged has its link before its tree).
   */
  private async applyData(site: string, deployments: DeploymentRules[], filesDir: string, extra?: string): Promise<Map<string, RuleWarning[]>> {
    const dir = join(this.deployments.sitesDir, site, "lua");
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    mkdirSync(filesDir, { recursive: true, mode: 0o750 });
    const warnings = new Map<string, RuleWarning[]>();
    const opts = { filesDir, secret: this.o.secret, site, allowPrivateProxy: this.o.allowPrivateProxy, geoip: this.o.geoip() };
    const now = new Date();
    for (const d of deployments) {
      const link = join(dir, d.id);
      let target = "none";
      warnings.set(d.id, []);
      if (hasRules(d.rules)) {
        target = rulesDataName(d.rules, opts);
        const file = join(dir, target);
        // A new deployment's rules are compiled for their warnings; the others' only when missing.
        if (!existsSync(file) || d.id === extra) {
          const r = renderRulesData(d.rules, opts);
          warnings.set(d.id, r.warnings);
          for (const f of r.files) this.writeForNginx(f.path, f.content);
          if (!existsSync(file)) {
            // A name of its own: another apply of the site may check the same rules meanwhile.
            const fresh = `${file}.${nanoid(8)}.new`;
            this.writeForNginx(fresh, r.text);
            try {
              await this.o.lua!.validate(fresh);
              renameSync(fresh, file);
            } finally {
              rmSync(fresh, { force: true });
            }
          }
        }
      }
      const was = readLink(link);
      if (was !== target) {
        rmSync(`${link}.tmp`, { force: true });
        symlinkSync(target, `${link}.tmp`);
        renameSync(`${link}.tmp`, link);
        // The grace period of a file no link names starts now (its time says when it was let go).
        if (was && was !== "none" && existsSync(join(dir, was))) utimesSync(join(dir, was), now, now);
      }
    }
    const ids = new Set(deployments.map((d) => d.id));
    const old = (path: string) => Date.now() - lstatSync(path).mtimeMs > UNUSED_RULES_GRACE_MS;
    const entries = readdirSync(dir);
    const named = new Set(entries.map((f) => readLink(join(dir, f))).filter(Boolean));
    for (const f of entries) {
      const path = join(dir, f);
      try {
        if (f.endsWith(".lua")) {
          if (!named.has(f) && old(path)) rmSync(path, { force: true });
        } else if (!ids.has(f) && !existsSync(join(this.deployments.sitesDir, site, "deploys", f)) && old(path)) rmSync(path, { force: true });
      } catch {
        /* gone meanwhile */
      }
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
    // One site's rules failing (nginx rejects them now) must not leave the others unconfigured.
    for (const site of this.deployments.sites())
      await this.serial(site, () => this.apply(site)).catch((e: Error) => log.error("a site's rules could not be applied", { site, error: e.message }));
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
