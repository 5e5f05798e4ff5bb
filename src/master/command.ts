import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { UsageError, type Command, type Values } from "../cli/command";
import { openDb } from "../db";
import { parseListen, waitForSignal } from "../shared/listen";
import { logger } from "../shared/log";
import { VERSION } from "../shared/version";
import { DEFAULT_MASTER_CONFIG, type MasterConfig, type QuotaLimits } from "./config";
import { createMaster } from "./server";

const log = logger("master");
const Q = DEFAULT_MASTER_CONFIG.quotas;

/** masterCommand is `sprout master`: the control plane (API, database, task queue). */
export const masterCommand: Command = {
  name: "master",
  group: "modes",
  summary: "Run the control plane: REST API, admin UI, SQLite, task queue",
  usage: "master [--listen HOST:PORT] [--data DIR] [--domain DOMAIN] [--registration open|closed]",
  options: {
    listen: { type: "string", value: "HOST:PORT", description: "Address of the API and admin UI (port 0: any free port)", env: "SPROUT_LISTEN", default: "127.0.0.1:7000" },
    data: { type: "string", value: "DIR", description: "Folder for the database", env: "SPROUT_DATA", default: ".sprout/master" },
    domain: { type: "string", value: "DOMAIN", description: "Platform domain: sites are served at <site>.<domain>", env: "SPROUT_DOMAIN", default: "localhost" },
    registration: { type: "string", value: "open|closed", description: "Whether anyone may register (the first user, the admin, always can)", env: "SPROUT_REGISTRATION", default: "open" },
    "access-ttl": { type: "string", value: "SECONDS", description: "Lifetime of access tokens", env: "SPROUT_ACCESS_TTL", default: "900" },
    "quota-sites": { type: "string", value: "N", description: "Sites one account may own (admins set per-user overrides)", env: "SPROUT_QUOTA_SITES", default: String(Q.sites) },
    "quota-deploys-per-hour": { type: "string", value: "N", description: "Deployments one account may create per hour", env: "SPROUT_QUOTA_DEPLOYS_PER_HOUR", default: String(Q.deploysPerHour) },
    "quota-bytes": { type: "string", value: "SIZE", description: "Bytes of kept deployments one account may hold (e.g. 10G, 500M)", env: "SPROUT_QUOTA_BYTES", default: "10G" },
    "quota-files": { type: "string", value: "N", description: "Files one deployment may list", env: "SPROUT_QUOTA_FILES", default: String(Q.filesPerDeployment) },
    "upload-ttl": { type: "string", value: "SECONDS", description: "A deployment still pending or uploading this long after its last news fails as abandoned", env: "SPROUT_UPLOAD_TTL", default: String(DEFAULT_MASTER_CONFIG.uploadTtl) },
  },
  examples: [
    "sprout master --listen 0.0.0.0:7000 --data /var/lib/sprout --domain sites.example.com",
    "SPROUT_REGISTRATION=closed sprout master",
    "sprout master --quota-sites 10 --quota-deploys-per-hour 30 --quota-bytes 2G --upload-ttl 1800",
  ],
  async run(v) {
    const registration = String(v.registration);
    if (registration !== "open" && registration !== "closed") throw new UsageError("--registration must be open or closed");
    const accessTtl = Number(v["access-ttl"]);
    if (!Number.isInteger(accessTtl) || accessTtl < 1) throw new UsageError("--access-ttl must be a positive number of seconds");
    const domain = String(v.domain).toLowerCase();
    if (!/^[a-z0-9.-]+$/.test(domain)) throw new UsageError("--domain must be a host name, e.g. sites.example.com");
    let listen;
    try {
      listen = parseListen(String(v.listen));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const quotas = parseQuotas(v);
    const uploadTtl = positiveInt(v["upload-ttl"], "--upload-ttl");
    const config: MasterConfig = { ...DEFAULT_MASTER_CONFIG, domain, registration, accessTtl, quotas, uploadTtl };
    const dataDir = String(v.data);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const db = openDb(join(dataDir, "sprout.db"));
    const master = await createMaster({ db, config });
    const server = master.app.listen({ hostname: listen.hostname, port: listen.port, idleTimeout: 120 });
    const url = `http://${server.server!.hostname}:${server.server!.port}`;
    log.info(`sprout master listening on ${url}`, { version: VERSION, domain, data: dataDir });
    await waitForSignal();
    log.info("stopping");
    master.stop();
    await server.stop(true);
    db.$client.close();
    return 0;
  },
};

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
