import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { UsageError } from "./command";
import { isLoopbackHost, pinOf, selfSignedCertificate } from "./tls";

/** TlsMode is `--tls`: auto (HTTPS unless listening on loopback only), self-signed (always), off. */
export type TlsMode = "auto" | "self-signed" | "off";

/** ServerTls is what a master or agent serves HTTPS with. */
export interface ServerTls {
  cert: string;
  key: string;
  /** pin: the certificate's key pin (`sha256//...`) that clients are given. */
  pin: string;
  /** selfSigned: made by Sprout (clients must pin it) rather than given by the operator. */
  selfSigned: boolean;
}

/** TLS_FLAGS are the options masters and agents share (added to their commands' options). */
export const TLS_FLAGS = (envPrefix: string) => ({
  tls: {
    type: "string" as const,
    value: "auto|self-signed|off",
    description: "HTTPS for this API: auto serves HTTPS with a self-signed certificate (made at first start, its pin printed) unless it listens on loopback only; off needs a TLS proxy in front",
    env: `${envPrefix}TLS`,
    default: "auto",
  },
  "tls-cert": { type: "string" as const, value: "PEM", description: "Certificate (chain) to serve HTTPS with instead of a self-signed one", env: `${envPrefix}TLS_CERT` },
  "tls-key": { type: "string" as const, value: "PEM", description: "Private key of --tls-cert", env: `${envPrefix}TLS_KEY` },
});

/** parseTlsMode reads `--tls`. */
export function parseTlsMode(raw: unknown): TlsMode {
  const m = String(raw ?? "auto");
  if (m !== "auto" && m !== "self-signed" && m !== "off") throw new UsageError("--tls must be auto, self-signed or off");
  return m;
}

/**
 * serverTls decides how an API listening on `listenHost` is served: the operator's --tls-cert/--tls-key,
 * else a self-signed certificate kept in `<dir>/server.crt` and `server.key` (0600, made once so the pin
 * given to clients stays valid), else plain HTTP (null) for `--tls off` and for `auto` on loopback.
 */
export async function serverTls(o: { mode: TlsMode; certFile?: string; keyFile?: string; dir: string; listenHost: string; commonName: string; names?: string[] }): Promise<ServerTls | null> {
  if (!!o.certFile !== !!o.keyFile) throw new UsageError("--tls-cert and --tls-key go together");
  if (o.certFile && o.keyFile) {
    if (o.mode === "off") throw new UsageError("--tls off contradicts --tls-cert");
    for (const f of [o.certFile, o.keyFile]) if (!existsSync(f)) throw new UsageError(`no file at ${f}`);
    const cert = readFileSync(o.certFile, "utf8");
    return { cert, key: readFileSync(o.keyFile, "utf8"), pin: pinOf(cert), selfSigned: false };
  }
  if (o.mode === "off" || (o.mode === "auto" && isLoopbackHost(o.listenHost))) return null;
  const certPath = join(o.dir, "server.crt");
  const keyPath = join(o.dir, "server.key");
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    chmodSync(o.dir, 0o700);
    const host = o.listenHost.replace(/^\[|\]$/g, "");
    const names = ["localhost", "127.0.0.1", "::1", hostname(), ...(["0.0.0.0", "::", ""].includes(host) ? [] : [host]), ...(o.names ?? [])];
    const made = await selfSignedCertificate(o.commonName, names);
    // Key first, then the certificate: a certificate on disk always has its key beside it.
    writeFileSync(`${keyPath}.tmp`, made.keyPem, { mode: 0o600 });
    renameSync(`${keyPath}.tmp`, keyPath);
    writeFileSync(`${certPath}.tmp`, made.certPem, { mode: 0o600 });
    renameSync(`${certPath}.tmp`, certPath);
  }
  const cert = readFileSync(certPath, "utf8");
  return { cert, key: readFileSync(keyPath, "utf8"), pin: pinOf(cert), selfSigned: true };
}
