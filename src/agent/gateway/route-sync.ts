import { join } from "node:path";
import type { GatewayRoutes } from "../../protocol/domain";
import { logger } from "../../shared/log";
import { SyncedDocument } from "../synced-document";
import type { NginxLayout } from "../nginx/config";
import type { NginxProcess } from "../nginx/process";
import { WILDCARD, installCertificates, masterTrustFor, prepareCertDir } from "../cert-files";
import { renderGatewayConf, type GatewayListen } from "./config";

const log = logger("gateway");

/**
 * RouteSync keeps a gateway's nginx in step with the master's routes: it polls GET /api/agent/routes
 * every `everyMs` (a SyncedDocument: an unchanged document is a 304), and on a change saves the
 * document (<data>/routes.json, 0600: it holds certificate keys), installs certificates
 * (renamed into place) and applies the new config and certificates with one reload when either
 * changed: a batch of renewals fetched together costs one reload. A gateway restarted while the master is down routes
 * from the saved document.
 */
export class RouteSync {
  private routes: GatewayRoutes | null = null;
  private readonly doc: SyncedDocument<GatewayRoutes>;
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
    this.doc = new SyncedDocument<GatewayRoutes>({
      master: o.master,
      path: "/api/agent/routes",
      token: o.token,
      masterPin: o.masterPin,
      file: join(o.dataDir, "routes.json"),
      everyMs: o.everyMs,
      log,
      refused: "The master refused this gateway's token",
      failed: "could not fetch routes; the master may be down (routing goes on with the last routes)",
      version: () => this.routes?.version ?? null,
      received: (routes) => this.apply(routes, true),
    });
    // The certificates' folder and files are nginx's to read (group), nobody else's.
    prepareCertDir(o.layout, o.workerGid);
  }

  /** loadSaved applies the routes saved by an earlier run, so the gateway routes before the master answers. */
  async loadSaved() {
    try {
      const saved = this.doc.saved();
      if (!saved) return;
      await this.apply(saved, false);
      log.info("routing from the saved routes until the master answers", { version: this.routes?.version });
    } catch (e) {
      log.warn("the saved routes could not be applied", { error: (e as Error).message });
    }
  }

  /** run polls until stop(); it rejects when the master refuses the gateway's token. */
  run() {
    return this.doc.run();
  }

  private async apply(routes: GatewayRoutes, save: boolean) {
    if (this.routes?.version === routes.version && this.o.nginx.state !== "stopped") return;
    const certsChanged = installCertificates(this.o.layout, [...routes.domains, ...(routes.wildcard ? [{ name: WILDCARD, ...routes.wildcard }] : [])], this.o.workerGid);
    const conf = renderGatewayConf({ layout: this.o.layout, listen: this.o.listen, routes, master: this.o.master, masterTrust: await masterTrustFor(this.o.layout, this.o.master, this.o.masterPin), workerUser: this.o.workerUser });
    const changed = this.o.nginx.writeConf(conf);
    if (save) this.doc.save(routes);
    this.routes = routes;
    this.applied++;
    if (this.o.nginx.state === "stopped") {
      this.o.nginx.start();
      await this.o.onServing();
    } else if (changed || certsChanged) await this.o.nginx.reload();
    log.info("routes applied", { version: routes.version, sites: Object.keys(routes.sites).length, upstreams: routes.upstreams.length, domains: routes.domains.length });
  }

  stop() {
    this.doc.stop();
  }
}
