import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { UsageError, type Command } from "../cli/command";
import { openDb } from "../db";
import { parseListen, waitForSignal } from "../shared/listen";
import { logger } from "../shared/log";
import { VERSION } from "../shared/version";
import { DEFAULT_MASTER_CONFIG, type MasterConfig } from "./config";
import { createMaster } from "./server";

const log = logger("master");

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
    "offline-after": { type: "string", value: "SECONDS", description: "A node silent this long is down: deploys stop waiting for it, and it catches up when it returns", env: "SPROUT_OFFLINE_AFTER", default: "15" },
    "heal-after": { type: "string", value: "SECONDS", description: "A node down this long has its sites copied to other nodes to keep their replica count", env: "SPROUT_HEAL_AFTER", default: "60" },
  },
  examples: [
    "sprout master --listen 0.0.0.0:7000 --data /var/lib/sprout --domain sites.example.com",
    "SPROUT_REGISTRATION=closed sprout master",
  ],
  async run(v) {
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
    let listen;
    try {
      listen = parseListen(String(v.listen));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const config: MasterConfig = { ...DEFAULT_MASTER_CONFIG, domain, registration, accessTtl, offlineAfter, healAfter };
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
