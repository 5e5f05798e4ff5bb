import { existsSync } from "node:fs";
import { hostname } from "node:os";
import type { AgentStatus } from "../protocol/agent";
import type { StatusReport } from "../protocol/deployment";
import { EXCLUSIVE_PORT } from "../shared/listen";
import { logger } from "../shared/log";
import { VERSION } from "../shared/version";
import { agentApp } from "./app";
import { BlobStore } from "./blobs";
import { DEFAULT_BROTLI_MODULE, DEFAULT_GEOIP_COUNTRY, DEFAULT_GEOIP_MODULE, DEFAULT_SITES_PER_SHARD, type AgentConfig } from "./config";
import { Deployments } from "./deployments";
import { FatalAuthError, IncompatibleVersion, MasterLink } from "./master-link";
import { SelfUpgrade } from "./self-upgrade";
import { ARCH } from "../shared/self-upgrade";
import { nginxLayout, renderNginxConf, renderShardConf } from "./nginx/config";
import { NginxProcess } from "./nginx/process";
import { NginxShards } from "./nginx/shards";
import { moduleProblem } from "./nginx/modules";
import { clearRulesChecks, installLua, LUA_MODULES, luaProblem, validateRules } from "./nginx/lua-engine";
import { StateFile } from "./state";
import { systemReport } from "./system";
import { TaskRunner } from "./tasks";
import { Uploads } from "./uploads";
import { SiteConfigurator } from "./site-config";
import { secureLayout, workerIdentity, type WorkerIdentity } from "./layout";
import { agentMetrics, agentReadiness } from "./health";
import { Traffic } from "./traffic";
import { TlsSync } from "./tls-sync";

const log = logger("agent");

/** brotliModuleProblem says why nginx cannot serve brotli with the module at `path`, or null. */
function brotliModuleProblem(nginxBin: string, path: string, prefix: string): string | null {
  if (!existsSync(path)) return `nginx's brotli_static module is not at ${path}`;
  return moduleProblem(nginxBin, prefix, { what: "the brotli_static module", path, directives: "brotli_static on;" });
}

/**
 * geoipProblem says why nginx cannot tell visitors' countries with the geoip module at `module` and
 * the country database `db`, or null (`Country=` rules need both).
 */
function geoipProblem(nginxBin: string, module: string, db: string, prefix: string): string | null {
  if (!existsSync(module)) return `nginx's geoip module is not at ${module}`;
  if (!existsSync(db)) return `there is no GeoIP country database at ${db}`;
  return moduleProblem(nginxBin, prefix, { what: "the geoip module (with its country database)", path: module, directives: `geoip_country ${db};` });
}

/**
 * Agent composes a node: agent API, blob store, deployments, its nginx, and the link to the master
 * (heartbeats every 3 s, tasks by long poll). It keeps serving when the master is away.
 */
export class Agent {
  readonly state: StateFile;
  readonly blobs: BlobStore;
  readonly deployments: Deployments;
  readonly uploads: Uploads;
  /** nginx: the main nginx, which visitors reach; shards: the ones serving sites with rules. */
  readonly nginx: NginxProcess;
  readonly shards: NginxShards;
  readonly link: MasterLink;
  readonly tasks: TaskRunner;
  readonly siteConfig: SiteConfigurator;
  readonly traffic: Traffic;
  /** tlsSync: the node's HTTPS (--https-listen), or null without it. */
  private readonly tlsSync: TlsSync | null;
  private server: ReturnType<ReturnType<typeof agentApp>["listen"]> | null = null;
  private running = true;
  private fatal: ((e: Error) => void) | null = null;
  private restart: (() => void) | null = null;
  private incompatibleSaidAt = 0;
  readonly upgrader: SelfUpgrade;
  private worker: WorkerIdentity | null;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  /** brotliModule: the brotli_static module nginx loads, or null (gzip only: off, or brotliProblem says why). */
  private brotliModule: string | null;
  private brotliProblem: string | null;
  /** geoip: the module and country database for `Country=` rules, or null (geoipProblem says why). */
  private geoip: { module: string; db: string } | null;
  private geoipProblem: string | null;
  /** lua: the Lua rules engine nginx runs (nginx/lua-engine.ts), or null: per-site includes in shards (luaProblem says why). */
  private lua: { dir: string; modules: string[] } | null;
  private luaProblem: string | null;
  url = "";

  constructor(private config: AgentConfig) {
    this.worker = workerIdentity(config.nginxUser);
    secureLayout(config.dataDir, this.worker);
    clearRulesChecks(nginxLayout(config.dataDir).prefix);
    // Temporary files of an interrupted upload go first: on a full disk they are what frees room
    // for anything this start writes.
    this.blobs = new BlobStore(config.dataDir, config.reverifySeconds * 1000);
    this.blobs.clearTmp();
    const brotli = config.brotliModule === undefined ? DEFAULT_BROTLI_MODULE : config.brotliModule;
    this.brotliProblem = brotli ? brotliModuleProblem(config.nginxBin, brotli, nginxLayout(config.dataDir).prefix) : null;
    this.brotliModule = brotli && !this.brotliProblem ? brotli : null;
    this.blobs.brotli = this.brotliModule !== null;
    const geoipDb = config.geoipCountry === undefined ? DEFAULT_GEOIP_COUNTRY : config.geoipCountry;
    const geoipModule = config.geoipModule ?? DEFAULT_GEOIP_MODULE;
    this.geoipProblem = geoipDb ? geoipProblem(config.nginxBin, geoipModule, geoipDb, nginxLayout(config.dataDir).prefix) : null;
    this.geoip = geoipDb && !this.geoipProblem ? { module: geoipModule, db: geoipDb } : null;
    const engine = config.rulesEngine ?? "auto";
    this.luaProblem = engine === "nginx" ? null : luaProblem(config.nginxBin, nginxLayout(config.dataDir).prefix);
    if (engine === "lua" && this.luaProblem) throw new Error(`--rules-engine lua: ${this.luaProblem}. Install libnginx-mod-http-lua (Debian/Ubuntu), or use --rules-engine nginx`);
    this.lua = engine !== "nginx" && !this.luaProblem ? { dir: installLua(nginxLayout(config.dataDir).prefix), modules: LUA_MODULES } : null;
    this.state = new StateFile(config.dataDir);
    this.deployments = new Deployments(config.dataDir, this.blobs, config.retain, this.state.uploadSecret());
    // Once more, now that the stores made their folders (blobs 0700, sites 0711...).
    secureLayout(config.dataDir, this.worker);
    this.link = new MasterLink(config.master.replace(/\/+$/, ""), config.token, config.masterPin);
    this.upgrader = new SelfUpgrade(config.master.replace(/\/+$/, ""), () => this.restart?.(), config.masterPin);
    this.nginx = new NginxProcess(config.nginxBin, nginxLayout(config.dataDir));
    this.traffic = new Traffic(nginxLayout(config.dataDir).prefix, () => this.state.state.domain, () => this.nginx.reopenLogs());
    this.shards = new NginxShards(config.nginxBin, config.dataDir, this.nginx, `${config.httpListen.hostname}:${config.httpListen.port}`, config.sitesPerShard ?? DEFAULT_SITES_PER_SHARD, (n) => renderShardConf({ ...this.confOptions(), shard: n }), () => this.refreshMainConf());
    this.siteConfig = new SiteConfigurator(this.deployments, this.shards, {
      dataDir: config.dataDir,
      domain: () => this.state.state.domain,
      secret: this.state.uploadSecret(),
      workerGid: this.worker?.gid ?? null,
      allowPrivateProxy: config.allowPrivateProxy ?? false,
      geoip: () => this.geoip !== null,
      engine: this.lua ? "lua" : "nginx",
      lua: { validate: (file) => validateRules(config.nginxBin, nginxLayout(config.dataDir).prefix, this.lua!.dir, this.lua!.modules, file) },
    });
    // What reaches the master (and users' deploy logs) never names this node's folders.
    const redact = (m: string) => m.replaceAll(config.dataDir, "<data>");
    const report = (r: StatusReport) => this.link.report({ ...r, message: redact(r.message) });
    this.uploads = new Uploads(config.dataDir, this.state, this.blobs, this.deployments, config.limits, report, this.siteConfig, config.name || hostname());
    this.deployments.siblings.report = report;
    this.tlsSync = config.httpsListen ? new TlsSync({ dataDir: config.dataDir, master: config.master.replace(/\/+$/, ""), token: config.token, masterPin: config.masterPin, layout: nginxLayout(config.dataDir), httpListen: `${config.httpListen.hostname}:${config.httpListen.port}`, httpsListen: `${config.httpsListen.hostname.includes(":") ? `[${config.httpsListen.hostname}]` : config.httpsListen.hostname}:${config.httpsListen.port}`, nginx: this.nginx, workerGid: this.worker?.gid ?? null, everyMs: 2000 }) : null;
    if (!this.tlsSync) TlsSync.clear(config.dataDir, nginxLayout(config.dataDir));
    this.tasks = new TaskRunner(this.deployments, this.blobs, this.uploads, this.shards, this.link, this.siteConfig, config.uploadTtlSeconds * 1000, config.name || hostname());
  }

  /**
   * run serves until stop(); it rejects when the master refuses the agent's token, and resolves
   * "restart" once an upgrade replaced the binary (the caller stops the agent and starts it again).
   */
  async run(): Promise<"restart"> {
    const nginxUrl = `http://${this.config.httpListen.hostname}:${this.config.httpListen.port}`;
    const app = agentApp({
      uploads: this.uploads,
      blobs: this.blobs,
      state: this.state,
      agentToken: this.config.token,
      status: () => this.status(),
      ready: () => agentReadiness(this.status(), nginxUrl, this.config.minFreeDisk),
      metrics: () => agentMetrics(this.status(), this.nginx.lastReloadMs),
      idleTimeoutS: this.config.idleTimeoutSeconds,
    });
    const tls = this.config.tls;
    this.server = app.listen({ hostname: this.config.listen.hostname, port: this.config.listen.port, ...EXCLUSIVE_PORT, idleTimeout: this.config.idleTimeoutSeconds, maxRequestBodySize: this.config.limits.maxTotalBytes + 64 * 1024 * 1024, ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}) });
    const host = this.server.server!.hostname!.includes(":") ? `[${this.server.server!.hostname}]` : this.server.server!.hostname;
    this.url = this.config.publicUrl ?? `${tls ? "https" : "http"}://${host}:${this.server.server!.port}`;
    log.info(`sprout agent listening on ${this.url}`, { name: this.config.name, version: VERSION, ...(tls ? { pin: tls.pin } : {}) });
    if (this.brotliModule) log.info(`brotli on: nginx serves .br siblings (module ${this.brotliModule})`);
    else if (this.config.brotliModule === null) log.info("brotli off (--brotli-module off): compressible files are served with gzip only");
    else log.warn(`brotli off: ${this.brotliProblem}; compressible files are served with gzip only. Install libnginx-mod-http-brotli-static (Debian/Ubuntu) or pass --brotli-module PATH`);
    if (this.lua) log.info("rules engine: Lua (sites' _redirects and _headers are read at request time; a deploy reloads nothing)");
    else if (this.config.rulesEngine === "nginx") log.info("rules engine: nginx includes in shards (--rules-engine nginx)");
    else log.warn(`rules engine: nginx includes in shards, because ${this.luaProblem}. Install libnginx-mod-http-lua (Debian/Ubuntu): with it a rules deploy reloads nothing`);
    if (this.geoip) log.info(`Country= rules on (GeoIP database ${this.geoip.db})`);
    else if (this.config.geoipCountry === null) log.info("Country= rules off (--geoip-country off): such rules are skipped with a warning");
    else log.info(`Country= rules off: ${this.geoipProblem}; such rules are skipped with a warning. Install libnginx-mod-http-geoip and geoip-database (Debian/Ubuntu) or pass --geoip-country PATH`);
    await this.tlsSync?.loadSaved();
    // With a domain known from an earlier run, serve at once, before the master answers.
    if (this.state.state.domain) await this.startNginx();
    const failed = new Promise<"restart">((resolve, reject) => {
      this.fatal = reject;
      this.restart = () => resolve("restart");
    });
    void this.tlsSync?.run().catch((e: Error) => this.fatal?.(e));
    void this.heartbeatLoop();
    void this.taskLoop();
    // Compressed forms an earlier run did not get to make (it was stopped or killed before).
    this.deployments.siblings.resume();
    // Abandoned uploads expire after the upload TTL; checked a few times per TTL (1 s to 1 h apart).
    this.tasks.sweepUploads();
    const every = Math.min(Math.max((this.config.uploadTtlSeconds * 1000) / 4, 1000), 3_600_000);
    this.sweepTimer = setInterval(() => this.tasks.sweepUploads(), every);
    return failed;
  }

  /** listenAddress is the agent API's actual HOST:PORT (port 0 resolved), for a restart on the same one. */
  listenAddress(): string {
    const s = this.server!.server!;
    return `${s.hostname?.includes(":") ? `[${s.hostname}]` : s.hostname}:${s.port}`;
  }

  /** confOptions: what the main nginx's and the shards' configurations share. */
  private confOptions() {
    return {
      dataDir: this.config.dataDir,
      domain: this.state.state.domain!,
      workerUser: this.worker ? `${this.worker.user} ${this.worker.group}` : null,
      resolver: this.config.resolver,
      brotliModule: this.brotliModule,
      geoip: this.geoip,
      trustedProxies: this.config.trustedProxies ?? [],
    };
  }

  /** mainConf renders the main nginx.conf, with the sites handed to shards. */
  private mainConf(): string {
    return renderNginxConf({ ...this.confOptions(), listen: `${this.config.httpListen.hostname}:${this.config.httpListen.port}`, shards: this.shards.routes, lua: this.lua });
  }

  /** refreshMainConf brings the main nginx in line after a site came to or left a shard. */
  async refreshMainConf() {
    if (this.state.state.domain && this.nginx.writeConf(this.mainConf())) await this.nginx.reload();
  }

  private async startNginx() {
    const changed = this.nginx.writeConf(this.mainConf());
    // Site includes name the domain too: bring them in line before nginx (re)loads.
    try {
      await this.siteConfig.applyAll();
    } catch (e) {
      log.error("a site's rules were rejected by nginx", { error: (e as Error).message });
    }
    if (!this.lua) await this.shards.startAll();
    // With the Lua engine no site has an include or a shard: an earlier run's go once nginx serves
    // every site without them (until then an nginx left running may still hand requests to them).
    const retire = () => this.lua && this.shards.retire();
    if (this.nginx.state === "stopped") {
      this.nginx.start();
      const url = `http://${this.config.httpListen.hostname}:${this.config.httpListen.port}`;
      // Say "serving" once nginx answers (any answer: unknown hosts get its default 404).
      const end = Date.now() + 10_000;
      while (Date.now() < end && !(await fetch(url, { signal: AbortSignal.timeout(1000) }).then(() => true, () => false))) await Bun.sleep(25);
      log.info(`nginx serving on ${url}`, { domain: this.state.state.domain });
    } else if (changed) await this.nginx.reload();
    retire();
  }

  private async heartbeatLoop() {
    let boot = true;
    while (this.running) {
      try {
        const traffic = this.traffic.collect();
        const answer = await this.link.heartbeat({
          boot,
          ...(traffic.length ? { traffic } : {}),
          role: "node",
          version: VERSION,
          arch: ARCH,
          ...(this.upgrader.error ? { upgrade_error: this.upgrader.error } : {}),
          url: this.url,
          ...(this.config.tls?.selfSigned ? { tls_pin: this.config.tls.pin } : {}),
          http_url: `http://${this.config.httpListen.hostname}:${this.config.httpListen.port}`,
          system: systemReport(this.config.dataDir, this.nginxReport(), this.deployments.sites().length),
        });
        boot = false;
        this.traffic.acknowledged(traffic);
        const changed = this.state.update({ agentId: answer.agent_id, domain: answer.domain, grantPublicKey: answer.grant_public_key });
        if (changed || this.nginx.state === "stopped") {
          await this.startNginx();
          // Tell the master at once that nginx serves now (it was told "stopped" a moment ago).
          if (changed) continue;
        }
        this.upgrader.handle(answer.upgrade);
      } catch (e) {
        if (e instanceof FatalAuthError) return this.fatal?.(e);
        if (e instanceof IncompatibleVersion) {
          // Said loudly, once a minute: the node serves what it has but takes no work until fixed.
          if (Date.now() - this.incompatibleSaidAt > 60_000) log.error(e.message);
          this.incompatibleSaidAt = Date.now();
          await Bun.sleep(3000);
          continue;
        }
        log.warn("heartbeat failed; the master may be down (sites keep being served)", { error: (e as Error).message });
      }
      await Bun.sleep(3000);
    }
  }

  private async taskLoop() {
    while (this.running) {
      try {
        for (const { id, task } of await this.link.tasks()) {
          let result: { ok: boolean; error?: string } = { ok: true };
          try {
            await this.tasks.apply(task);
          } catch (e) {
            result = { ok: false, error: (e as Error).message.replaceAll(this.config.dataDir, "<data>") };
            log.warn("task failed", { kind: task.kind, error: result.error });
          }
          await this.link.result(id, result).catch((e) => log.warn("could not report task result", { error: (e as Error).message }));
        }
      } catch (e) {
        if (e instanceof FatalAuthError) return this.fatal?.(e);
        this.link.connected = false;
        if (this.running) await Bun.sleep(e instanceof IncompatibleVersion ? 10_000 : 1000);
      }
    }
  }

  status(): AgentStatus {
    return {
      name: this.config.name || hostname(),
      agent_id: this.state.state.agentId,
      version: VERSION,
      master_connected: this.link.connected,
      system: systemReport(this.config.dataDir, this.nginxReport(), this.deployments.sites().length),
    };
  }

  /** nginxReport: the main nginx's state (a shard's trouble shows as "restarting"), all reloads. */
  private nginxReport() {
    const state = this.nginx.state === "running" && this.shards.problem() ? "restarting" : this.nginx.state;
    return { state, reloads: this.nginx.reloads + this.shards.reloads };
  }

  async stop() {
    this.running = false;
    this.tlsSync?.stop();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.link.close();
    this.tasks.stop();
    await Promise.all([this.nginx.stop(), this.shards.stop()]);
    await this.server?.stop(true);
  }
}
