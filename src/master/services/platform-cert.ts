import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { UsageError } from "../../shared/command";
import { logger } from "../../shared/log";

const log = logger("master");

/** PlatformCert is the wildcard certificate of `*.<platform domain>` gateways serve the sites' own hosts with. */
export interface PlatformCert {
  cert_pem: string;
  key_pem: string;
  expires_at: string;
}

/**
 * PlatformCertFiles reads the operator's wildcard certificate (`--wildcard-cert/--wildcard-key`),
 * e.g. one certbot renews by DNS-01 with its DNS provider's plugin. The files are read again when
 * they change, so a renewal reaches the gateways with their next routes, without a restart. A
 * replacement that does not fit (unreadable, another name, a key of another certificate) is logged
 * and the last good one is kept.
 */
export class PlatformCertFiles {
  private stamp = "";
  private current: PlatformCert | null = null;

  constructor(
    private certFile: string,
    private keyFile: string,
    private domain: string,
  ) {
    const first = this.load();
    if (typeof first === "string") throw new UsageError(`--wildcard-cert: ${first}`);
    this.current = first;
  }

  /** get answers the certificate, re-read when either file changed since the last look. */
  get(): PlatformCert | null {
    let stamp: string;
    try {
      stamp = [this.certFile, this.keyFile].map((f) => `${statSync(f).mtimeMs}:${statSync(f).size}`).join(",");
    } catch {
      return this.current;
    }
    if (stamp === this.stamp) return this.current;
    const next = this.load();
    if (typeof next === "string") log.warn("the wildcard certificate files changed but cannot be used; the last good one stays", { problem: next });
    else {
      this.current = next;
      log.info("wildcard certificate loaded", { domain: `*.${this.domain}`, expires: next.expires_at });
    }
    this.stamp = stamp;
    return this.current;
  }

  /** load reads and checks the files; a string says what is wrong. */
  private load(): PlatformCert | string {
    let cert: string;
    let key: string;
    try {
      cert = readFileSync(this.certFile, "utf8");
      key = readFileSync(this.keyFile, "utf8");
    } catch (e) {
      return `cannot read the certificate files (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    }
    try {
      const x = new X509Certificate(cert);
      if (!x.checkHost(`site.${this.domain}`)) return `the certificate does not cover *.${this.domain}`;
      if (!x.checkPrivateKey(createPrivateKey(key))) return "--wildcard-key is not the key of --wildcard-cert";
      return { cert_pem: cert, key_pem: key, expires_at: new Date(x.validTo).toISOString() };
    } catch (e) {
      return `not a PEM certificate and key (${(e as Error).message})`;
    }
  }
}
