import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { versionHeaders } from "../../protocol/version";
import { VERSION } from "../../shared/version";
import { join } from "node:path";
import type { GatewayRoutes } from "../../protocol/domain";
import { logger } from "../../shared/log";
import { secureFetch } from "../../shared/tls";
import { FatalAuthError } from "../master-link";
import type { NginxLayout } from "../nginx/config";
import type { NginxProcess } from "../nginx/process";
import { WILDCARD, installCertificates, masterTrustFor, prepareCertDir } from "../cert-files";
import { renderGatewayConf, type GatewayListen } from "./config";

const log = logger("gateway");

/**
 * RouteSync keeps a gateway's nginx in step with the master's routes: it polls GET /api/agent/routes
 * every `everyMs` with the last version as ETag (an unchanged document is a 304), and on a change
 * saves the document (<data>/routes.json, 0600: it holds certificate keys), installs certificates
 * (renamed into place) and applies the new config and certificates with one reload when either
 * changed: a batch of renewals fetched together costs one reload. A gateway restarted while the master is down routes
 * from the saved document.
 */
export class RouteSync {
  private running = true;
  private routes: GatewayRoutes | null = null;
  private readonly file: string;
  /** applied counts documents applied (for logs and tests). */
  applied = 0;

  constructor(
    private o: {
      dataDir: string;
      master: string;
      token: string;
      /** masterPin: the master's certificate pin, when it is self-signed. */
      masterPin?: string;
      layout: NginxLayout;
      listen: GatewayListen;
      nginx: NginxProcess;
      workerUser: string | null;
      /** workerGid: the group of nginx's workers when they run as another user; they read the certificates. */
      workerGid?: number | null;
      everyMs: number;
      /** started: called once nginx serves for the first time. */
      onServing: () => Promise<void>;
    },
  ) {
    this.file = join(o.dataDir, "routes.json");
    // The certificates' folder and files are nginx's to read (group), nobody else's.
    prepareCertDir(o.layout, o.workerGid);
  }

  /** loadSaved applies the routes saved by an earlier run, so the gateway routes before the master answers. */
  async loadSaved() {
    if (!existsSync(this.file)) return;
    try {
      await this.apply(JSON.parse(readFileSync(this.file, "utf8")) as GatewayRoutes, false);
      log.info("routing from the saved routes until the master answers", { version: this.routes?.version });
    } catch (e) {
      log.warn("the saved routes could not be applied", { error: (e as Error).message });
    }
  }

  /** run polls until stop(); it rejects when the master refuses the gateway's token. */
  async run() {
    while (this.running) {
      try {
        await this.pollOnce();
      } catch (e) {
        if (e instanceof FatalAuthError) throw e;
        log.warn("could not fetch routes; the master may be down (routing goes on with the last routes)", { error: (e as Error).message });
      }
      await Bun.sleep(this.o.everyMs);
    }
  }

  private async pollOnce() {
    const res = await secureFetch(`${this.o.master}/api/agent/routes`, {
      // Its build, so that a master that cannot work with it refuses (409) rather than be misread.
      headers: { ...versionHeaders(), "user-agent": `sprout-agent/${VERSION}`, authorization: `Bearer ${this.o.token}`, ...(this.routes ? { "if-none-match": `"${this.routes.version}"` } : {}) },
      signal: AbortSignal.timeout(10_000),
    }, this.o.masterPin);
    if (res.status === 304) return;
    if (res.status === 401 || res.status === 403) {
      const e = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new FatalAuthError(`The master refused this gateway's token: ${e.error?.message ?? res.status}`);
    }
    if (!res.ok) throw new Error(`GET /api/agent/routes: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    await this.apply((await res.json()) as GatewayRoutes, true);
  }

  private async apply(routes: GatewayRoutes, save: boolean) {
    if (this.routes?.version === routes.version && this.o.nginx.state !== "stopped") return;
    const certsChanged = installCertificates(this.o.layout, [...routes.domains, ...(routes.wildcard ? [{ name: WILDCARD, ...routes.wildcard }] : [])], this.o.workerGid);
    const conf = renderGatewayConf({ layout: this.o.layout, listen: this.o.listen, routes, master: this.o.master, masterTrust: await masterTrustFor(this.o.layout, this.o.master, this.o.masterPin), workerUser: this.o.workerUser });
    const changed = this.o.nginx.writeConf(conf);
    if (save) {
      writeFileSync(`${this.file}.tmp`, JSON.stringify(routes), { mode: 0o600 });
      renameSync(`${this.file}.tmp`, this.file);
    }
    this.routes = routes;
    this.applied++;
    if (this.o.nginx.state === "stopped") {
      this.o.nginx.start();
      await this.o.onServing();
    } else if (changed || certsChanged) await this.o.nginx.reload();
    log.info("routes applied", { version: routes.version, sites: Object.keys(routes.sites).length, upstreams: routes.upstreams.length, domains: routes.domains.length });
  }

  stop() {
    this.running = false;
  }
}
