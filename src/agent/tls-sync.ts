import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { NodeTls } from "../protocol/domain";
import { SproutError } from "../shared/errors";
import { logger } from "../shared/log";
import { WILDCARD, installCertificates, masterTrustFor, prepareCertDir } from "./cert-files";
import type { NginxLayout } from "./nginx/config";
import { httpsConfFile, renderNodeHttps } from "./nginx/https";
import type { NginxProcess } from "./nginx/process";
import { SyncedDocument } from "./synced-document";

const log = logger("agent");

/**
 * TlsSync gives a node with --https-listen its HTTPS: it polls GET /api/agent/tls every `everyMs`
 * (a SyncedDocument: unchanged costs a 304), installs the certificates of the domains of the node's sites, and
 * writes nginx/https/servers.conf (see renderNodeHttps), checked with `nginx -t` and applied with one
 * reload per changed document, so a batch of renewals costs one reload. The document is kept
 * (<data>/tls.json, 0600: it holds keys) so a node restarted while the master is away serves HTTPS.
 */
export class TlsSync {
  private version: string | null = null;
  private readonly conf: string;
  private readonly doc: SyncedDocument<NodeTls>;

  constructor(
    private o: {
      dataDir: string;
      master: string;
      token: string;
      masterPin?: string;
      layout: NginxLayout;
      /** httpListen/httpsListen: `host:port` of the node's HTTP and HTTPS listeners. */
      httpListen: string;
      httpsListen: string;
      nginx: NginxProcess;
      workerGid: number | null;
      everyMs: number;
    },
  ) {
    this.conf = httpsConfFile(o.layout);
    this.doc = new SyncedDocument<NodeTls>({
      master: o.master,
      path: "/api/agent/tls",
      token: o.token,
      masterPin: o.masterPin,
      file: join(o.dataDir, "tls.json"),
      everyMs: o.everyMs,
      log,
      refused: "The master refused this node's token for certificates",
      failed: "could not apply certificates; HTTPS goes on with the last ones",
      version: () => this.version,
      received: (tls) => this.received(tls),
    });
    prepareCertDir(o.layout, o.workerGid);
    mkdirSync(dirname(this.conf), { recursive: true, mode: 0o700 });
  }

  /**
   * loadSaved writes the HTTPS servers of the document saved by an earlier run (before nginx starts,
   * so it serves HTTPS at once); a document that no longer fits is dropped until the master answers.
   */
  async loadSaved() {
    try {
      const saved = this.doc.saved();
      if (saved) await this.write(saved);
    } catch (e) {
      rmSync(this.conf, { force: true });
      log.warn("the saved certificates could not be applied", { error: (e as Error).message });
    }
  }

  /** run polls until stop(); it rejects when the master refuses the node's token. */
  run() {
    return this.doc.run();
  }

  private async received(tls: NodeTls) {
    const changed = await this.write(tls);
    this.doc.save(tls);
    if (changed && this.o.nginx.state !== "stopped") await this.o.nginx.reload();
    log.info("certificates applied", { version: tls.version, domains: tls.domains.length, reload: changed });
  }

  /** write installs the certificates and the HTTPS servers; answers whether nginx must reload. */
  private async write(tls: NodeTls): Promise<boolean> {
    const certsChanged = installCertificates(this.o.layout, [...tls.domains, ...(tls.wildcard ? [{ name: WILDCARD, ...tls.wildcard }] : [])], this.o.workerGid);
    const text = renderNodeHttps({ layout: this.o.layout, httpListen: this.o.httpListen, httpsListen: this.o.httpsListen, tls, master: this.o.master, masterTrust: await masterTrustFor(this.o.layout, this.o.master, this.o.masterPin) });
    this.version = tls.version;
    const old = existsSync(this.conf) ? readFileSync(this.conf, "utf8") : null;
    if (old === text) return certsChanged;
    writeFileSync(`${this.conf}.new`, text, { mode: 0o600 });
    renameSync(`${this.conf}.new`, this.conf);
    // Checked with the main config around it, as nginx will load it; a rejected one is taken back.
    if (existsSync(this.o.layout.conf)) {
      const test = this.o.nginx.test();
      if (!test.ok) {
        if (old === null) rmSync(this.conf, { force: true });
        else writeFileSync(this.conf, old, { mode: 0o600 });
        this.version = null;
        throw new SproutError(422, "nginx_rejected", `nginx rejected the HTTPS configuration: ${test.output}`);
      }
    }
    return true;
  }

  stop() {
    this.doc.stop();
  }

  /**
   * clear removes what an earlier run with --https-listen left (servers and saved document), so a
   * node started without it serves no HTTPS and keeps no keys.
   */
  static clear(dataDir: string, layout: NginxLayout) {
    rmSync(httpsConfFile(layout), { force: true });
    rmSync(join(dataDir, "tls.json"), { force: true });
  }
}
