import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostname } from "node:os";
import type { AgentStatus } from "../protocol/agent";
import { logger } from "../shared/log";
import { VERSION } from "../shared/version";
import { agentApp } from "./app";
import { BlobStore } from "./blobs";
import { DEFAULT_BROTLI_MODULE, type AgentConfig } from "./config";
import { Deployments } from "./deployments";
import { FatalAuthError, IncompatibleVersion, MasterLink } from "./master-link";
import { SelfUpgrade } from "./self-upgrade";
import { ARCH } from "../shared/self-upgrade";
import { JIT_MAX_RULES_SITES, nginxLayout, renderNginxConf } from "./nginx/config";
import { NginxProcess } from "./nginx/process";
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

/**
 * brotliModuleProblem says why nginx cannot serve brotli with the module at `path`, or null when it
 * can: the file must exist and load into this nginx (a module built for another nginx version
 * would stop nginx from starting at all). One `nginx -t` of a small configuration, at start.
 */
function brotliModuleProblem(nginxBin: string, path: string, prefix: string): string | null {
  if (!existsSync(path)) return `nginx's brotli_static module is not at ${path}`;
  mkdirSync(prefix, { recursive: true, mode: 0o700 });
  const conf = join(prefix, "brotli-probe.conf");
  writeFileSync(conf, `load_module ${path};\nerror_log stderr;\nevents {}\nhttp { brotli_static on; }\n`, { mode: 0o600 });
  try {
    const r = Bun.spawnSync([nginxBin, "-t", "-q", "-e", "stderr", "-p", prefix, "-c", conf], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode === 0) return null;
    const why = r.stderr.toString().split("\n").find((l) => l.includes("[emerg]")) ?? r.stderr.toString().trim().split("\n")[0] ?? "";
    return `nginx cannot load the brotli_static module at ${path} (${why.replace(/^.*\[emerg\]\s*/, "").slice(0, 300)})`;
  } finally {
    rmSync(conf, { force: true });
  }
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
  readonly nginx: NginxProcess;
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
  url = "";

  constructor(private config: AgentConfig) {
    this.worker = workerIdentity(config.nginxUser);
    secureLayout(config.dataDir, this.worker);
    // Temporary files of an interrupted upload go first: on a full disk they are what frees room
    // for anything this start writes.
    this.blobs = new BlobStore(config.dataDir, config.reverifySeconds * 1000);
    this.blobs.clearTmp();
    const brotli = config.brotliModule === undefined ? DEFAULT_BROTLI_MODULE : config.brotliModule;
    this.brotliProblem = brotli ? brotliModuleProblem(config.nginxBin, brotli, nginxLayout(config.dataDir).prefix) : null;
    this.brotliModule = brotli && !this.brotliProblem ? brotli : null;
    this.blobs.brotli = this.brotliModule !== null;
    this.state = new StateFile(config.dataDir);
    this.deployments = new Deployments(config.dataDir, this.blobs, config.retain, this.state.uploadSecret());
    // Once more, now that the stores made their folders (blobs 0700, sites 0711...).
    secureLayout(config.dataDir, this.worker);
    this.link = new MasterLink(config.master.replace(/\/+$/, ""), config.token, config.masterPin);
    this.upgrader = new SelfUpgrade(config.master.replace(/\/+$/, ""), () => this.restart?.(), config.masterPin);
    this.nginx = new NginxProcess(config.nginxBin, nginxLayout(config.dataDir));
    this.traffic = new Traffic(nginxLayout(config.dataDir).prefix, () => this.state.state.domain, () => this.nginx.reopenLogs());
    this.siteConfig = new SiteConfigurator(this.deployments, this.nginx, {
      dataDir: config.dataDir,
      listen: `${config.httpListen.hostname}:${config.httpListen.port}`,
      domain: () => this.state.state.domain,
      secret: this.state.uploadSecret(),
      workerGid: this.worker?.gid ?? null,
      allowPrivateProxy: config.allowPrivateProxy ?? false,
      includesChanged: () => this.refreshMainConf(),
    });
    // What reaches the master (and users' deploy logs) never names this node's folders.
    const redact = (m: string) => m.replaceAll(config.dataDir, "<data>");
    this.uploads = new Uploads(config.dataDir, this.state, this.blobs, this.deployments, config.limits, (r) => this.link.report({ ...r, message: redact(r.message) }), this.siteConfig, config.name || hostname());
    this.tlsSync = config.httpsListen ? new TlsSync({ dataDir: config.dataDir, master: config.master.replace(/\/+$/, ""), token: config.token, masterPin: config.masterPin, layout: nginxLayout(config.dataDir), httpListen: `${config.httpListen.hostname}:${config.httpListen.port}`, httpsListen: `${config.httpsListen.hostname.includes(":") ? `[${config.httpsListen.hostname}]` : config.httpsListen.hostname}:${config.httpsListen.port}`, nginx: this.nginx, workerGid: this.worker?.gid ?? null, everyMs: 2000 }) : null;
    if (!this.tlsSync) TlsSync.clear(config.dataDir, nginxLayout(config.dataDir));
    this.tasks = new TaskRunner(this.deployments, this.blobs, this.uploads, this.nginx, this.link, this.siteConfig, config.uploadTtlSeconds * 1000, config.name || hostname());
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
    });
    const tls = this.config.tls;
    this.server = app.listen({ hostname: this.config.listen.hostname, port: this.config.listen.port, idleTimeout: 0, maxRequestBodySize: this.config.limits.maxTotalBytes + 64 * 1024 * 1024, ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}) });
    const host = this.server.server!.hostname!.includes(":") ? `[${this.server.server!.hostname}]` : this.server.server!.hostname;
    this.url = this.config.publicUrl ?? `${tls ? "https" : "http"}://${host}:${this.server.server!.port}`;
    log.info(`sprout agent listening on ${this.url}`, { name: this.config.name, version: VERSION, ...(tls ? { pin: tls.pin } : {}) });
    if (this.brotliModule) log.info(`brotli on: nginx serves .br siblings (module ${this.brotliModule})`);
    else if (this.config.brotliModule === null) log.info("brotli off (--brotli-module off): compressible files are served with gzip only");
    else log.warn(`brotli off: ${this.brotliProblem}; compressible files are served with gzip only. Install libnginx-mod-http-brotli-static (Debian/Ubuntu) or pass --brotli-module PATH`);
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

  /** mainConf renders nginx.conf; JIT for regexes only while the node has few sites with rules. */
  private mainConf(): string {
    const includes = readdirSync(nginxLayout(this.config.dataDir).sitesDir).filter((f) => f.endsWith(".conf")).length;
    return renderNginxConf({
      dataDir: this.config.dataDir,
      listen: `${this.config.httpListen.hostname}:${this.config.httpListen.port}`,
      domain: this.state.state.domain!,
      workerUser: this.worker ? `${this.worker.user} ${this.worker.group}` : null,
      resolver: this.config.resolver,
      pcreJit: includes <= JIT_MAX_RULES_SITES,
      brotliModule: this.brotliModule,
    });
  }

  /** refreshMainConf re-renders nginx.conf after a site's include came or went (see mainConf). */
  refreshMainConf() {
    if (this.state.state.domain) this.nginx.writeConf(this.mainConf());
  }

  private async startNginx() {
    const changed = this.nginx.writeConf(this.mainConf());
    // Site includes name the domain too: bring them in line before nginx (re)loads.
    try {
      await this.siteConfig.applyAll();
    } catch (e) {
      log.error("a site's rules were rejected by nginx", { error: (e as Error).message });
    }
    if (this.nginx.state === "stopped") {
      this.nginx.start();
      const url = `http://${this.config.httpListen.hostname}:${this.config.httpListen.port}`;
      // Say "serving" once nginx answers (any answer: unknown hosts get its default 404).
      const end = Date.now() + 10_000;
      while (Date.now() < end && !(await fetch(url, { signal: AbortSignal.timeout(1000) }).then(() => true, () => false))) await Bun.sleep(25);
      log.info(`nginx serving on ${url}`, { domain: this.state.state.domain });
    } else if (changed) await this.nginx.reload();
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
          system: systemReport(this.config.dataDir, { state: this.nginx.state, reloads: this.nginx.reloads }, this.deployments.sites().length),
        });
        boot = false;
        this.traffic.acknowledged(traffic);
        const changed = this.state.update({ agentId: answer.agent_id, domain: answer.domain, grantPublicKey: answer.grant_public_key });
        if (changed || this.nginx.state === "stopped") await this.startNginx();
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
      system: systemReport(this.config.dataDir, { state: this.nginx.state, reloads: this.nginx.reloads }, this.deployments.sites().length),
    };
  }

  async stop() {
    this.running = false;
    this.tlsSync?.stop();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.link.close();
    this.tasks.stop();
    await this.nginx.stop();
    await this.server?.stop(true);
  }
}
