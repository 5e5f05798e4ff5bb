import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pinnedCertificate } from "../shared/tls";
import type { NginxLayout } from "./nginx/config";

/** WILDCARD: the name the platform's `*.<domain>` certificate is installed under (no host name has a `_`). */
export const WILDCARD = "_wildcard";

/** certFiles names the files a domain's certificate and key are installed as (gateways and nodes alike). */
export function certFiles(layout: NginxLayout, domain: string) {
  return { cert: join(layout.prefix, "certs", `${domain}.crt`), key: join(layout.prefix, "certs", `${domain}.key`) };
}

/**
 * prepareCertDir makes <nginx>/certs: readable by nginx's workers (their group) and nobody else's.
 * Called once at start.
 */
export function prepareCertDir(layout: NginxLayout, workerGid: number | null | undefined) {
  const certs = join(layout.prefix, "certs");
  mkdirSync(certs, { recursive: true, mode: 0o750 });
  chmodSync(certs, 0o750);
  if (workerGid != null) chownSync(certs, process.getuid?.() ?? 0, workerGid);
}

/** CertPair is a certificate and its key as the master sends them (null before one is issued). */
export interface CertPair {
  name: string;
  cert_pem: string | null;
  key_pem: string | null;
}

/**
 * installCertificates writes each certificate and key (0640, group of nginx's workers), each renamed
 * into place so nginx never reads half a file, and removes those of names gone. It answers whether a
 * file changed (then a config that names files statically needs a reload to use them).
 */
export function installCertificates(layout: NginxLayout, pairs: CertPair[], workerGid: number | null | undefined): boolean {
  const keep = new Set<string>();
  let changed = false;
  for (const d of pairs) {
    if (!d.cert_pem || !d.key_pem) continue;
    const f = certFiles(layout, d.name);
    for (const [path, text] of [[f.cert, d.cert_pem], [f.key, d.key_pem]] as const) {
      keep.add(path);
      if (existsSync(path) && readFileSync(path, "utf8") === text) continue;
      writeFileSync(`${path}.tmp`, text, { mode: 0o640 });
      if (workerGid != null) chownSync(`${path}.tmp`, process.getuid?.() ?? 0, workerGid);
      renameSync(`${path}.tmp`, path);
      changed = true;
    }
  }
  const dir = join(layout.prefix, "certs");
  for (const f of readdirSync(dir))
    if (!keep.has(join(dir, f))) {
      rmSync(join(dir, f), { force: true });
      changed = true;
    }
  return changed;
}

/**
 * MasterTrust: how nginx checks the master's HTTPS when it passes ACME challenges on (a man in the
 * middle answering them could get certificates for the platform's domains): the master's pinned
 * certificate as the only trusted one, or the system's CAs.
 */
export interface MasterTrust {
  /** file: PEM of the certificates trusted for the master. */
  file: string;
  /** name: the name checked in the master's certificate (`localhost` for Sprout's self-signed one). */
  name: string;
}

/**
 * masterTrustFor writes what nginx trusts for an https:// master: its pinned certificate (fetched and
 * checked against the pin; kept on disk so a restart with the master down still renders), or the
 * system's CA bundle. Null for an http:// master (loopback only).
 */
export async function masterTrustFor(layout: NginxLayout, master: string, pin: string | undefined): Promise<MasterTrust | null> {
  if (!master.startsWith("https:")) return null;
  if (!pin) return { file: "/etc/ssl/certs/ca-certificates.crt", name: new URL(master).hostname };
  const file = join(layout.prefix, "master.pem");
  try {
    const pem = await pinnedCertificate(master, pin);
    if (!existsSync(file) || readFileSync(file, "utf8") !== pem) {
      writeFileSync(`${file}.tmp`, pem, { mode: 0o644 });
      renameSync(`${file}.tmp`, file);
    }
  } catch (e) {
    if (!existsSync(file)) throw e;
  }
  return { file, name: "localhost" };
}

/**
 * challengeLocation is the location of gateways' and nodes' servers that passes ACME HTTP-01
 * challenges on to the master (a new challenge needs no reload). nginx picks the location from the
 * normalized path but passes the path on as the visitor wrote it, and the master reads "\" as "/"
 * and resolves dot segments nginx left alone: `/.well-known/acme-challenge/x\..\..\..\y/../metrics`
 * would reach the master's /metrics (any path of its API) from the visitor path, as the proxy's
 * (private) address. So the path as written must be the challenge's and nothing else: the prefix
 * and one token of base64url (what ACME tokens are), no query; GET and HEAD only.
 */
export function challengeLocation(master: string, trust: MasterTrust | null | undefined): string {
  return `    location ^~ /.well-known/acme-challenge/ {
      if ($request_uri !~ "^/\\.well-known/acme-challenge/[A-Za-z0-9_-]{1,256}$") { return 404; }
      limit_except GET { deny all; }
      proxy_pass ${master};${masterTls(trust)}
    }`;
}

/** masterTls renders nginx's checks of the master's certificate for an https:// master. */
export function masterTls(t: MasterTrust | null | undefined, indent = "      "): string {
  if (!t) return "";
  return ["", `proxy_ssl_verify on;`, `proxy_ssl_trusted_certificate ${t.file};`, `proxy_ssl_name ${t.name};`, `proxy_ssl_server_name on;`, `proxy_set_header Host ${t.name};`].join(`\n${indent}`);
}

/**
 * MOZILLA_INTERMEDIATE: Mozilla's "intermediate" server-side TLS settings (TLS 1.2 and 1.3, forward
 * secret AEAD ciphers, the client's preference), with a shared session cache so a returning visitor
 * resumes without a full handshake.
 */
export const MOZILLA_INTERMEDIATE = `ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384;
  ssl_prefer_server_ciphers off;
  ssl_session_cache shared:sprout_tls:10m;
  ssl_session_timeout 1d;
  ssl_session_tickets off;`;
