import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { UsageError, type Command, type Values } from "../shared/command";
import { lockDataFolder } from "../shared/data-lock";
import { isSproutError } from "../shared/errors";
import { EXCLUSIVE_PORT, idleTimeoutFlag, parseListen, waitForSignal } from "../shared/listen";
import { TLS_FLAGS, parseTlsMode, serverTls } from "../shared/server-tls";
import { logger } from "../shared/log";
import { VERSION } from "../shared/version";
import { SERVER_BODY_CAP } from "./body-limit";
import { normalizeIp } from "./client";
import { DEFAULT_MASTER_CONFIG, type MasterConfig, type QuotaLimits } from "./config";

const log = logger("master");
const Q = DEFAULT_MASTER_CONFIG.quotas;

/** masterCommand is `sprout master`: the control plane (API, database, task queue). */
export const masterCommand: Command = {
  name: "master",
  group: "modes",
  summary: "Run the control plane: REST API, admin UI, SQLite, task queue",
  usage: "master [backup FILE | restore FILE] [--listen HOST:PORT] [--data DIR] [--domain DOMAIN] [--admin-email EMAIL] [--registration open|closed] [--backup-dir DIR]",
  options: {
    listen: { type: "string", value: "HOST:PORT", description: "Address of the API and admin UI (port 0: any free port)", env: "SPROUT_LISTEN", default: "127.0.0.1:7000" },
    data: { type: "string", value: "DIR", description: "Folder for the database (made 0700)", env: "SPROUT_DATA", default: ".sprout/master" },
    domain: { type: "string", value: "DOMAIN", description: "Platform domain: sites are served at <site>.<domain>", env: "SPROUT_DOMAIN", default: "localhost" },
    "admin-email": {
      type: "string",
      value: "EMAIL",
      description: "Create the admin at start when there is none; password from SPROUT_ADMIN_PASSWORD, else generated and printed once",
      env: "SPROUT_ADMIN_EMAIL",
    },
    registration: { type: "string", value: "open|closed", description: "Whether anyone may create an account (closed: the admin invites users)", env: "SPROUT_REGISTRATION", default: "closed" },
    "trusted-proxy": { type: "string", value: "IP,...", description: "Reverse proxies whose X-Forwarded-For/-Proto are believed", env: "SPROUT_TRUSTED_PROXY" },
    "access-ttl": { type: "string", value: "SECONDS", description: "Lifetime of access tokens", env: "SPROUT_ACCESS_TTL", default: "900" },
    "offline-after": { type: "string", value: "SECONDS", description: "A node silent this long is down: deploys stop waiting for it, and it catches up when it returns", env: "SPROUT_OFFLINE_AFTER", default: "15" },
    "heal-after": { type: "string", value: "SECONDS", description: "A node down this long has its sites copied to other nodes to keep their replica count", env: "SPROUT_HEAL_AFTER", default: "60" },
    "quota-sites": { type: "string", value: "N", description: "Sites one account may own (admins set per-user overrides)", env: "SPROUT_QUOTA_SITES", default: String(Q.sites) },
    "quota-deploys-per-hour": { type: "string", value: "N", description: "Deployments one account may create per hour", env: "SPROUT_QUOTA_DEPLOYS_PER_HOUR", default: String(Q.deploysPerHour) },
    "quota-bytes": { type: "string", value: "SIZE", description: "Bytes of kept deployments one account may hold (e.g. 10G, 500M)", env: "SPROUT_QUOTA_BYTES", default: "10G" },
    "quota-files": { type: "string", value: "N", description: "Files one deployment may list", env: "SPROUT_QUOTA_FILES", default: String(Q.filesPerDeployment) },
    "quota-domains": { type: "string", value: "N", description: "Custom domains one account may claim, pending ones included", env: "SPROUT_QUOTA_DOMAINS", default: String(Q.domains) },
    "quota-certificates-per-hour": { type: "string", value: "N", description: "Certificates (new or renewed) requested for one account's domains per hour; more wait (the CA limits the master's ACME account as a whole)", env: "SPROUT_QUOTA_CERTIFICATES_PER_HOUR", default: String(Q.certificatesPerHour) },
    "idle-timeout": { type: "string", value: "SECONDS", description: "Close a connection that sends nothing this long, idle between requests or stopped mid-request (1-255; long polls and the binary's download are not cut)", env: "SPROUT_IDLE_TIMEOUT", default: "120" },
    "metrics-token": { type: "string", value: "TOKEN", description: "Bearer token Prometheus sends to GET /metrics (without one, only private addresses may scrape)", env: "SPROUT_METRICS_TOKEN" },
    "alert-webhook": { type: "string", value: "URL,...", description: "Send alerts (node down, disk low, replicas below target, deploy failed) to these webhooks (JSON; Slack-compatible)", env: "SPROUT_ALERT_WEBHOOK" },
    "alert-email": { type: "string", value: "ADDRESS,...", description: "Mail alerts to these addresses (needs --smtp-url)", env: "SPROUT_ALERT_EMAIL" },
    "alert-email-from": { type: "string", value: "ADDRESS", description: "Sender of alert mails (default: sprout@<domain>)", env: "SPROUT_ALERT_EMAIL_FROM" },
    "smtp-url": { type: "string", value: "URL", description: "SMTP server for alert mails: smtp://user:password@host:587 (STARTTLS when offered) or smtps://...:465; keep the password out of argv by setting SPROUT_SMTP_URL", env: "SPROUT_SMTP_URL" },
    "alert-disk-low": { type: "string", value: "SIZE", description: "Free disk below which a node raises an alert (e.g. 1G)", env: "SPROUT_ALERT_DISK_LOW", default: "1G" },
    "backup-dir": { type: "string", value: "DIR", description: "Write a consistent backup of the database here every day (keeps --backup-keep)", env: "SPROUT_BACKUP_DIR" },
    "backup-keep": { type: "string", value: "N", description: "Daily backups kept in --backup-dir", env: "SPROUT_BACKUP_KEEP", default: "7" },
    "upload-ttl": { type: "string", value: "SECONDS", description: "A deployment still pending or uploading this long after its last news fails as abandoned", env: "SPROUT_UPLOAD_TTL", default: String(DEFAULT_MASTER_CONFIG.uploadTtl) },
    "dns-server": { type: "string", value: "HOST:PORT", description: "Resolver that verifies custom domains (default: the system's first nameserver)", env: "SPROUT_DNS_SERVER" },
    "acme-directory": { type: "string", value: "URL", description: "ACME CA for custom domains' certificates: a directory URL, letsencrypt or letsencrypt-staging", env: "SPROUT_ACME_DIRECTORY" },
    "acme-email": { type: "string", value: "EMAIL", description: "Contact address of the ACME account (expiry notices)", env: "SPROUT_ACME_EMAIL" },
    "acme-dns-hook": { type: "string", value: "COMMAND", description: "Get *.<domain> by DNS-01: run as `COMMAND add|remove _acme-challenge.<domain> VALUE`, it publishes (or removes) that TXT record and returns once it is live", env: "SPROUT_ACME_DNS_HOOK" },
    "acme-renew-before": { type: "string", value: "DAYS", description: "Renew a certificate this many days before it expires (a window longer than the CA's certificates forces a renewal at every check)", env: "SPROUT_ACME_RENEW_BEFORE", default: "30" },
    "acme-ca-file": { type: "string", value: "PEM", description: "CA certificate to trust for the ACME directory's own HTTPS (e.g. pebble's)", env: "SPROUT_ACME_CA_FILE" },
    ...TLS_FLAGS("SPROUT_"),
    "wildcard-cert": { type: "string", value: "PEM", description: "Certificate (chain) for *.<domain>: gateways with --https-listen serve every site's own host with it (read again when the file changes)", env: "SPROUT_WILDCARD_CERT" },
    "wildcard-key": { type: "string", value: "PEM", description: "Private key of --wildcard-cert", env: "SPROUT_WILDCARD_KEY" },
    "domain-check-interval": { type: "string", value: "SECONDS", description: "How often every custom domain's DNS is checked again", env: "SPROUT_DOMAIN_CHECK_INTERVAL", default: String(DEFAULT_MASTER_CONFIG.domainCheckEvery) },
  },
  examples: [
    "sprout master --listen 0.0.0.0:7000 --data /var/lib/sprout --domain sites.example.com --admin-email you@example.com",
    "SPROUT_ADMIN_PASSWORD='...' sprout master --admin-email you@example.com",
    "sprout master --trusted-proxy 127.0.0.1 --registration open",
    "sprout master --listen 0.0.0.0:7000 --tls-cert /etc/ssl/sprout.crt --tls-key /etc/ssl/sprout.key",
    "sprout master --quota-sites 10 --quota-deploys-per-hour 30 --quota-bytes 2G --upload-ttl 1800",
    "sprout master --data /var/lib/sprout --backup-dir /var/backups/sprout --backup-keep 14",
    "sprout master backup /var/backups/sprout/now.db --data /var/lib/sprout",
    "sprout master restore /var/backups/sprout/now.db --data /var/lib/sprout   # with the master stopped",
  ],
  async run(v, pos) {
    const [action, file] = pos;
    if (action === "backup" || action === "restore") return backupOrRestore(action, file, String(v.data));
    if (action) throw new UsageError(`unknown action "${action}": sprout master [backup FILE | restore FILE]`);
    const registration = String(v.registration);
    if (registration !== "open" && registration !== "closed") throw new UsageError("--registration must be open or closed");
    const accessTtl = Number(v["access-ttl"]);
    if (!Number.isInteger(accessTtl) || accessTtl < 1) throw new UsageError("--access-ttl must be a positive number of seconds");
    const offlineAfter = Number(v["offline-after"]);
    if (!Number.isInteger(offlineAfter) || offlineAfter < 2) throw new UsageError("--offline-after must be a whole number of seconds, at least 2");
    const healAfter = Number(v["heal-after"]);
    if (!Number.isInteger(healAfter) || healAfter < 0) throw new UsageError("--heal-after must be a whole number of seconds");
    const domain = String(v.domain).toLowerCase();
    if (!/^[a-z0-9.-]+$/.test(domain)) throw new UsageError("--domain must be a host name, e.g. sites.example.com");
    const trustedProxies = typeof v["trusted-proxy"] === "string" ? v["trusted-proxy"].split(",").map(normalizeIp).filter(Boolean) : [];
    if (trustedProxies.some((ip) => !/^[0-9a-f.:]+$/.test(ip))) throw new UsageError("--trusted-proxy must be IP addresses separated by commas, e.g. 127.0.0.1");
    const adminEmail = typeof v["admin-email"] === "string" ? v["admin-email"].trim().toLowerCase() : undefined;
    if (adminEmail !== undefined && !/^[^\s@]+@[^\s@]+$/.test(adminEmail)) throw new UsageError("--admin-email must be an email address");
    const adminPassword = process.env.SPROUT_ADMIN_PASSWORD || undefined;
    if (adminPassword !== undefined && adminPassword.length < 8) throw new UsageError("SPROUT_ADMIN_PASSWORD must be at least 8 characters");
    let listen;
    try {
      listen = parseListen(String(v.listen));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const quotas = parseQuotas(v);
    const uploadTtl = positiveInt(v["upload-ttl"], "--upload-ttl");
    const idleTimeout = idleTimeoutFlag(v["idle-timeout"]);
    let dnsServer: MasterConfig["dnsServer"] = null;
    if (typeof v["dns-server"] === "string") {
      try {
        const l = parseListen(v["dns-server"], "--dns-server");
        dnsServer = { host: l.hostname, port: l.port };
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const domainCheckEvery = positiveInt(v["domain-check-interval"], "--domain-check-interval");
    const acme = await parseAcme(v);
    const tlsMode = parseTlsMode(v.tls);
    const wildcardCert = optional(v["wildcard-cert"]);
    const wildcardKey = optional(v["wildcard-key"]);
    if (!!wildcardCert !== !!wildcardKey) throw new UsageError("--wildcard-cert and --wildcard-key go together");
    if (wildcardCert && acme?.dnsHook) throw new UsageError("--wildcard-cert and --acme-dns-hook are two ways to the same certificate: give one");
    if (typeof v["acme-dns-hook"] === "string" && !acme) throw new UsageError("--acme-dns-hook needs --acme-directory and --acme-email");
    const wildcard = wildcardCert && wildcardKey ? { certFile: resolve(wildcardCert), keyFile: resolve(wildcardKey) } : null;
    const config: MasterConfig = { ...DEFAULT_MASTER_CONFIG, domain, registration, accessTtl, offlineAfter, healAfter, trustedProxies, quotas, uploadTtl, dnsServer, domainCheckEvery, acme, wildcard, metricsToken: typeof v["metrics-token"] === "string" ? v["metrics-token"] : undefined, ...alertConfig(v) };
    const dataDir = String(v.data);
    // The database holds the JWT secret and the grant signing key: nothing here is for other users.
    process.umask(0o077);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700);
    // Before anything reads or writes the database: a second master on it stops here.
    const unlock = lockDataFolder(dataDir, "master");
    // The control plane's modules load only here: other commands of this binary start faster.
    const [{ openDb }, { createMaster }, { BackupSchedule }] = await Promise.all([import("../db"), import("./server"), import("./backup")]);
    const db = openDb(join(dataDir, "sprout.db"));
    const master = await createMaster({ db, config });
    if (adminEmail) {
      try {
        const admin = await master.services.auth.ensureAdmin(adminEmail, adminPassword);
        if (admin.password)
          process.stderr.write(`\n  Admin account created: ${adminEmail}\n  Password (shown once, not stored): ${admin.password}\n  Change it after logging in.\n\n`);
        else if (admin.created) log.info("admin account created", { email: adminEmail });
      } catch (e) {
        if (!isSproutError(e)) throw e;
        master.stop();
        db.$client.close();
        process.stderr.write(`sprout master: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ""}\n`);
        return 1;
      }
    } else if (!master.services.auth.hasAdmin()) {
      log.warn("there is no admin yet: start the master once with --admin-email EMAIL to create one");
    }
    const backups = typeof v["backup-dir"] === "string" ? new BackupSchedule(join(dataDir, "sprout.db"), resolve(v["backup-dir"]), positiveInt(v["backup-keep"], "--backup-keep")) : null;
    // HTTPS unless the master listens on loopback only (or the operator said --tls off): tokens and
    // passwords never cross a network in clear. Agents and CLIs pin a self-signed certificate's key.
    const tls = await serverTls({ mode: tlsMode, certFile: optional(v["tls-cert"]), keyFile: optional(v["tls-key"]), dir: join(dataDir, "tls"), listenHost: listen.hostname, commonName: "sprout-master" });
    if (!tls && !["127.0.0.1", "::1", "localhost"].includes(listen.hostname) && !listen.hostname.startsWith("127."))
      log.warn("the master serves plain HTTP beyond loopback (--tls off): put a TLS proxy in front, or tokens cross the network in clear");
    const server = master.app.listen({ hostname: listen.hostname, port: listen.port, idleTimeout, maxRequestBodySize: SERVER_BODY_CAP, ...EXCLUSIVE_PORT, ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}) });
    const host = server.server!.hostname!.includes(":") ? `[${server.server!.hostname}]` : server.server!.hostname;
    const url = `${tls ? "https" : "http"}://${host}:${server.server!.port}`;
    log.info(`sprout master listening on ${url}`, { version: VERSION, domain, data: dataDir, registration, ...(tls ? { pin: tls.pin } : {}) });
    if (tls?.selfSigned)
      process.stderr.write(`\n  HTTPS with a self-signed certificate. Its pin, for agents and CLIs:\n    ${tls.pin}\n  sprout login --master ${url} --pin ${tls.pin}\n\n`);
    await waitForSignal();
    log.info("stopping");
    backups?.stop();
    master.stop();
    await server.stop(true);
    db.$client.close();
    unlock();
    return 0;
  },
};

/**
 * backupOrRestore runs `sprout master backup FILE` (a consistent snapshot, safe while the master
 * runs) or `sprout master restore FILE` (the master must be stopped; nodes catch up to the restored
 * record when they next report).
 */
async function backupOrRestore(action: "backup" | "restore", file: string | undefined, dataDir: string): Promise<number> {
  if (!file) throw new UsageError(`sprout master ${action} needs a FILE`);
  const { backupDatabase, restoreDatabase } = await import("./backup");
  try {
    if (action === "backup") {
      backupDatabase(join(dataDir, "sprout.db"), resolve(file));
      process.stdout.write(`Backup written to ${file} (0600: it holds the master's keys).\n`);
    } else {
      // A running master would go on with the database it has open: restore only a stopped one's.
      const unlock = existsSync(dataDir) ? lockDataFolder(dataDir, "master") : () => {};
      let r;
      try {
        r = restoreDatabase(resolve(file), dataDir);
      } finally {
        unlock();
      }
      process.stdout.write(`Restored ${file} (${r.sites} sites). Start the master: nodes catch up to it when they report.\n`);
    }
    return 0;
  } catch (e) {
    if (!isSproutError(e)) throw e;
    process.stderr.write(`sprout master ${action}: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ""}\n`);
    return 1;
  }
}

const optional = (x: unknown) => (typeof x === "string" && x ? x : undefined);

/** alertConfig reads --alert-webhook, --alert-email, --alert-email-from, --smtp-url and --alert-disk-low. */
function alertConfig(v: Values): Pick<MasterConfig, "alertWebhooks" | "alertDiskLowBytes" | "alertEmail"> {
  const alertWebhooks = typeof v["alert-webhook"] === "string" ? v["alert-webhook"].split(",").map((u) => u.trim()).filter(Boolean) : [];
  for (const u of alertWebhooks) if (!/^https?:\/\/\S+$/.test(u)) throw new UsageError(`--alert-webhook must be http(s) URLs (got "${u}")`);
  const email = /^[^\s@,]+@[^\s@,]+$/;
  const to = typeof v["alert-email"] === "string" ? v["alert-email"].split(",").map((a) => a.trim()).filter(Boolean) : [];
  for (const a of to) if (!email.test(a)) throw new UsageError(`--alert-email must be email addresses separated by commas (got "${a}")`);
  const smtpUrl = typeof v["smtp-url"] === "string" ? v["smtp-url"].trim() : "";
  if (to.length && !smtpUrl) throw new UsageError("--alert-email needs --smtp-url (or SPROUT_SMTP_URL), e.g. smtp://user:password@mail.example.com:587");
  // The URL may hold a password: never echo it back.
  if (smtpUrl && !/^smtps?:\/\/[^\s/]+/.test(smtpUrl)) throw new UsageError("--smtp-url must be smtp://[user:password@]host[:port] or smtps://...");
  const from = typeof v["alert-email-from"] === "string" ? v["alert-email-from"].trim() : `sprout@${String(v.domain).toLowerCase()}`;
  if (to.length && !email.test(from)) throw new UsageError("--alert-email-from must be an email address");
  return { alertWebhooks, alertDiskLowBytes: parseSize(String(v["alert-disk-low"]), "--alert-disk-low"), alertEmail: to.length ? { to, from, smtpUrl } : null };
}

/** parseAcme reads --acme-directory, --acme-email and --acme-ca-file (all or nothing but the CA file). */
async function parseAcme(v: Values): Promise<MasterConfig["acme"]> {
  const dir = typeof v["acme-directory"] === "string" ? v["acme-directory"] : null;
  if (!dir) return null;
  const { ACME_DIRECTORIES } = await import("./services/acme");
  const directory = ACME_DIRECTORIES[dir] ?? dir;
  if (!/^https:\/\//.test(directory)) throw new UsageError("--acme-directory must be an https:// URL, letsencrypt or letsencrypt-staging");
  const email = typeof v["acme-email"] === "string" ? v["acme-email"] : "";
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new UsageError("--acme-email EMAIL is required with --acme-directory");
  const caFile = typeof v["acme-ca-file"] === "string" ? v["acme-ca-file"] : null;
  if (caFile && !existsSync(caFile)) throw new UsageError(`--acme-ca-file: no file at ${caFile}`);
  const days = Number(v["acme-renew-before"] ?? 30);
  if (!Number.isFinite(days) || days <= 0) throw new UsageError("--acme-renew-before must be a positive number of days");
  return { directory, email, caPem: caFile ? readFileSync(caFile, "utf8") : null, renewBeforeMs: days * 24 * 3600 * 1000, dnsHook: typeof v["acme-dns-hook"] === "string" && v["acme-dns-hook"] ? v["acme-dns-hook"] : null };
}

/** parseQuotas reads the --quota-* flags, reporting every bad one at once. */
function parseQuotas(v: Values): QuotaLimits {
  const problems: string[] = [];
  const take = (f: () => number) => {
    try {
      return f();
    } catch (e) {
      problems.push((e as Error).message);
      return 0;
    }
  };
  const quotas: QuotaLimits = {
    sites: take(() => positiveInt(v["quota-sites"], "--quota-sites")),
    deploysPerHour: take(() => positiveInt(v["quota-deploys-per-hour"], "--quota-deploys-per-hour")),
    bytes: take(() => parseSize(String(v["quota-bytes"]), "--quota-bytes")),
    filesPerDeployment: take(() => positiveInt(v["quota-files"], "--quota-files")),
    domains: take(() => positiveInt(v["quota-domains"], "--quota-domains")),
    certificatesPerHour: take(() => positiveInt(v["quota-certificates-per-hour"], "--quota-certificates-per-hour")),
  };
  if (problems.length) throw new UsageError(problems.join("; "));
  return quotas;
}

function positiveInt(raw: unknown, flag: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive whole number`);
  return n;
}

/** parseSize reads a byte count with an optional K, M, G or T suffix (powers of 1024). */
export function parseSize(raw: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(raw.trim());
  if (!m) throw new UsageError(`${flag} must be a size such as 500M or 10G`);
  const n = Math.floor(Number(m[1]) * 1024 ** " kmgt".indexOf((m[2] || " ").toLowerCase()));
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} must be a size such as 500M or 10G`);
  return n;
}
