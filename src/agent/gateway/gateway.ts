import { chmodSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { logger } from "../../shared/log";
import { VERSION } from "../../shared/version";
import type { AgentConfig } from "../config";
import { workerIdentity } from "../layout";
import { FatalAuthError, IncompatibleVersion, MasterLink } from "../master-link";
import { SelfUpgrade } from "../self-upgrade";
import { ARCH } from "../../shared/self-upgrade";
import { nginxLayout } from "../nginx/config";
import { NginxProcess } from "../nginx/process";
import { StateFile } from "../state";
import { systemReport } from "../system";
import { RouteSync } from "./route-sync";

const log = logger("gateway");

/**
 * Gateway composes `sprout agent --role gateway`: no sites of its own, only its nginx as the load
 * balancer in front of the nodes, the route sync that feeds it, heartbeats so the master knows it is
 * up, and a liveness answer on --listen. It is stateless: everything it routes comes from the master
 * (and is saved on disk so it keeps routing while the master is away). Several can run side by side.
 */
export class Gateway {
  private readonly nginx: NginxProcess;
  private readonly link: MasterLink;
  private readonly sync: RouteSync;
  private readonly state: StateFile;
  private server: ReturnType<typeof Bun.serve> | null = null;
  private running = true;
  private readonly httpUrl: string;
  private restart: (() => void) | null = null;
  private readonly upgrader: SelfUpgrade;
  private incompatibleSaidAt = 0;

  constructor(private config: AgentConfig & { httpsListen?: { hostname: string; port: number }; routesEveryMs?: number }) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o711 });
    chmodSync(config.dataDir, 0o711);
    this.state = new StateFile(config.dataDir);
    const layout = nginxLayout(config.dataDir);
    this.nginx = new NginxProcess(config.nginxBin, layout);
    this.link = new MasterLink(config.master.replace(/\/+$/, ""), config.token, config.masterPin);
    this.upgrader = new SelfUpgrade(config.master.replace(/\/+$/, ""), () => this.restart?.(), config.masterPin);
    const worker = workerIdentity(config.nginxUser);
    const hp = (l: { hostname: string; port: number }) => `${l.hostname.includes(":") ? `[${l.hostname}]` : l.hostname}:${l.port}`;
    this.httpUrl = `http://${hp(config.httpListen)}`;
    this.sync = new RouteSync({
      dataDir: config.dataDir,
      master: config.master.replace(/\/+$/, ""),
      token: config.token,
      masterPin: config.masterPin,
      layout,
      listen: { http: hp(config.httpListen), https: config.httpsListen ? hp(config.httpsListen) : null },
      nginx: this.nginx,
      workerUser: worker ? `${worker.user} ${worker.group}` : null,
      workerGid: worker?.gid ?? null,
      everyMs: config.routesEveryMs ?? 2000,
      onServing: () => this.announce(),
    });
  }

  /**
   * run serves until stop(); it rejects when the master refuses the gateway's token or role, and
   * resolves "restart" once an upgrade replaced the binary.
   */
  async run(): Promise<"restart"> {
    this.server = Bun.serve({
      hostname: this.config.listen.hostname,
      port: this.config.listen.port,
      fetch: (req) => (new URL(req.url).pathname === "/api/heartbeat" ? Response.json({ ok: true, version: VERSION }) : Response.json({ error: { code: "not_found", message: "Not found." } }, { status: 404 })),
    });
    const url = this.config.publicUrl ?? `http://${this.server.hostname}:${this.server.port}`;
    log.info(`sprout agent listening on ${url}`, { name: this.config.name, role: "gateway", version: VERSION });
    await this.sync.loadSaved();
    const failed = new Promise<"restart">((resolve, reject) => {
      this.restart = () => resolve("restart");
      void this.heartbeatLoop(url).catch(reject);
      void this.sync.run().catch(reject);
    });
    return failed;
  }

  /** listenAddress is the liveness server's actual HOST:PORT, for a restart on the same one. */
  listenAddress(): string {
    const s = this.server!;
    return `${s.hostname?.includes(":") ? `[${s.hostname}]` : s.hostname}:${s.port}`;
  }

  private async announce() {
    const end = Date.now() + 10_000;
    while (Date.now() < end && !(await fetch(this.httpUrl, { signal: AbortSignal.timeout(1000) }).then(() => true, () => false))) await Bun.sleep(25);
    log.info(`nginx serving on ${this.httpUrl}`, { role: "gateway" });
  }

  private async heartbeatLoop(url: string) {
    let boot = true;
    while (this.running) {
      try {
        const answer = await this.link.heartbeat({
          boot,
          role: "gateway",
          version: VERSION,
          arch: ARCH,
          ...(this.upgrader.error ? { upgrade_error: this.upgrader.error } : {}),
          url,
          http_url: this.httpUrl,
          system: systemReport(this.config.dataDir, { state: this.nginx.state, reloads: this.nginx.reloads }, 0),
        });
        boot = false;
        this.state.update({ agentId: answer.agent_id, domain: answer.domain });
        this.upgrader.handle(answer.upgrade);
      } catch (e) {
        if (e instanceof FatalAuthError) throw e;
        if (e instanceof IncompatibleVersion) {
          if (Date.now() - this.incompatibleSaidAt > 60_000) log.error(e.message);
          this.incompatibleSaidAt = Date.now();
          await Bun.sleep(3000);
          continue;
        }
        log.warn("heartbeat failed; the master may be down (routing goes on)", { error: (e as Error).message });
      }
      await Bun.sleep(3000);
    }
  }

  /** name is what `sprout agents` shows. */
  get name() {
    return this.config.name || hostname();
  }

  async stop() {
    this.running = false;
    this.sync.stop();
    this.link.close();
    await this.nginx.stop();
    this.server?.stop(true);
  }
}
