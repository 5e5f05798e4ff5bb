import { Database } from "bun:sqlite";
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SproutError } from "../shared/errors";
import { logger } from "../shared/log";

const log = logger("backup");

/**
 * backupDatabase writes a consistent snapshot of the master's database (users, tokens' hashes,
 * sites, deployments, agents, and the `kv` keys: the JWT secret and the grant signing key) to
 * `file` with SQLite's `VACUUM INTO`, which reads one transaction's view: safe while the master
 * runs and writes, never a copy of a live file. The file is 0600: it holds the master's secrets.
 */
export function backupDatabase(dbPath: string, file: string) {
  if (!existsSync(dbPath)) throw new SproutError(404, "no_database", `There is no master database at ${dbPath}.`, "Pass the master's --data folder.");
  if (existsSync(file)) throw new SproutError(409, "backup_exists", `${file} already exists; a backup never overwrites a file.`, "Choose a new file name.");
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(dbPath, { readonly: true });
  try {
    db.query("VACUUM INTO ?").run(file);
  } finally {
    db.close();
  }
  chmodSync(file, 0o600);
}

/**
 * restoreDatabase puts a backup in place of the master's database (the master must be stopped).
 * The database it replaces is kept beside it as `sprout.db.before-restore-<time>`. Nodes may serve
 * deployments newer than the backup: every site's generation is moved past anything a node can
 * have applied (the restore's time in ms), so the master's next word wins on every node, and every
 * agent is marked offline so that its first heartbeat catches it up to the restored record.
 */
export function restoreDatabase(file: string, dataDir: string): { sites: number } {
  if (!existsSync(file)) throw new SproutError(404, "no_backup", `There is no backup at ${file}.`);
  let sites = 0;
  let probe: Database;
  try {
    probe = new Database(file, { readonly: true });
    probe.query("SELECT 1 FROM sqlite_master").all();
  } catch {
    throw new SproutError(400, "not_a_backup", `${basename(file)} is not a Sprout master backup (not an SQLite database).`, "Make one with `sprout master backup FILE`.");
  }
  try {
    const tables = probe.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((t) => t.name);
    if (!tables.includes("__sprout_migrations") || !tables.includes("sites"))
      throw new SproutError(400, "not_a_backup", `${basename(file)} is not a Sprout master backup.`, "Make one with `sprout master backup FILE`.");
    if (probe.query("PRAGMA integrity_check").values()[0]?.[0] !== "ok")
      throw new SproutError(400, "corrupt_backup", `${basename(file)} fails SQLite's integrity check.`);
  } finally {
    probe.close();
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const target = join(dataDir, "sprout.db");
  const staging = `${target}.restoring`;
  rmSync(staging, { force: true });
  // Copy through SQLite too, so the restored file is complete before it takes the live name.
  const src = new Database(file, { readonly: true });
  try {
    src.query("VACUUM INTO ?").run(staging);
  } finally {
    src.close();
  }
  const db = new Database(staging);
  try {
    const epoch = Date.now();
    db.transaction(() => {
      sites = db.query("UPDATE sites SET generation = ? + generation").run(epoch).changes;
      db.query("UPDATE placements SET applied_generation = 0").run();
      db.query("UPDATE agents SET status = 'offline' WHERE status = 'online'").run();
    })();
  } finally {
    db.close();
  }
  chmodSync(staging, 0o600);
  if (existsSync(target)) renameSync(target, `${target}.before-restore-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  for (const f of [`${target}-wal`, `${target}-shm`]) rmSync(f, { force: true });
  renameSync(staging, target);
  return { sites };
}

/**
 * BackupSchedule writes a backup into `dir` once a day (and at start when today's is missing) and
 * keeps the newest `keep`. Names sort by time: sprout-YYYYMMDD-HHMMSS.db.
 */
export class BackupSchedule {
  private timer: ReturnType<typeof setInterval>;

  constructor(
    private dbPath: string,
    private dir: string,
    private keep: number,
  ) {
    this.tick();
    this.timer = setInterval(() => this.tick(), 3600_000);
  }

  private tick() {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const today = new Date().toISOString().slice(0, 10).replaceAll("-", "");
      const mine = () => readdirSync(this.dir).filter((f) => /^sprout-\d{8}-\d{6}\.db$/.test(f)).sort();
      if (!mine().some((f) => f.startsWith(`sprout-${today}-`))) {
        const stamp = new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
        backupDatabase(this.dbPath, join(this.dir, `sprout-${stamp}.db`));
        log.info("backup written", { file: `sprout-${stamp}.db` });
      }
      const all = mine();
      for (const f of all.slice(0, Math.max(0, all.length - this.keep))) rmSync(join(this.dir, f), { force: true });
    } catch (e) {
      log.error("backup failed", { error: (e as Error).message });
    }
  }

  stop() {
    clearInterval(this.timer);
  }
}
