import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { NodeTls } from "../protocol/domain";
import { versionHeaders } from "../protocol/version";
import { SproutError } from "../shared/errors";
import { logger } from "../shared/log";
import { secureFetch } from "../shared/tls";
import { VERSION } from "../shared/version";
import { WILDCARD, installCertificates, masterTrustFor, prepareCertDir } from "./cert-files";
import { FatalAuthError } from "./master-link";
import type { NginxLayout } from "./nginx/config";
import { httpsConfFile, renderNodeHttps } from "./nginx/https";
import type { NginxProcess } from "./nginx/process";

const log = logger("agent");

/**
 * TlsSync gives a node with --https-listen its HTTPS: it polls GET /api/agent/tls every `everyMs`
 * (ETag: unchanged costs a 304), installs the certificates of the domains of the node's sites, and
 * writes nginx/https/servers.conf (see renderNodeHttps), checked with `nginx -t` and applied with one
 * reload per changed document, so a batch of renewals costs one reload. The document is kept
 * (<data>/tls.json, 0600: it holds keys) so a node restarted while the master is away serves HTTPS.
 */
export class TlsSync {
  private running = true;
  private version: string | null = null;
  private readonly file: string;
  private readonly conf: string;

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
    this.file = join(o.dataDir, "tls.json");
    this.conf = httpsConfFile(o.layout);
    prepareCertDir(o.layout, o.workerGid);
    mkdirSync(dirname(this.conf), { recursive: true, mode: 0o700 });
  }

  /**
   * loadSaved writes the HTTPS servers of the document saved by an earlier run (before nginx starts,
   * so it serves HTTPS at once); a document that no longer fits is dropped until the master answers.
   */
  async loadSaved() {
    if (!existsSync(this.file)) return;
    try {
      await this.write(JSON.parse(readFileSync(this.file, "utf8")) as NodeTls);
    } catch (e) {
      rmSync(this.conf, { force: true });
      log.warn("the saved certificates could not be applied", { error: (e as Error).message });
    }
  }

  /** run polls until stop(); it rejects when the master refuses the node's token. */
  async run() {
    while (this.running) {
      try {
        await this.pollOnce();
      } catch (e) {
        if (e instanceof FatalAuthError) throw e;
        log.warn("could not apply certificates; HTTPS goes on with the last ones", { error: (e as Error).message });
      }
      await Bun.sleep(this.o.everyMs);
    }
  }

  private async pollOnce() {
    const res = await secureFetch(`${this.o.master}/api/agent/tls`, {
      headers: { ...versionHeaders(), "user-agent": `sprout-agent/${VERSION}`, authorization: `Bearer ${this.o.token}`, ...(this.version ? { "if-none-match": `"${this.version}"` } : {}) },
      signal: AbortSignal.timeout(10_000),
    }, this.o.masterPin);
    if (res.status === 304) return;
    if (res.status === 401 || res.status === 403) {
      const e = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new FatalAuthError(`The master refused this node's token for certificates: ${e.error?.message ?? res.status}`);
    }
    if (!res.ok) throw new Error(`GET /api/agent/tls: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    const tls = (await res.json()) as NodeTls;
    const changed = await this.write(tls);
    writeFileSync(`${this.file}.tmp`, JSON.stringify(tls), { mode: 0o600 });
    renameSync(`${this.file}.tmp`, this.file);
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
    this.running = false;
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
