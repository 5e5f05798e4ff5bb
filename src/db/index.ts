import { Database } from "bun:sqlite";
import { chmodSync, existsSync } from "node:fs";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import * as schema from "./schema";
import { MIGRATIONS } from "./migrations";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };
export { schema };

/**
 * openDb opens (or creates) the master's SQLite database at `path` (":memory:" for tests), sets the
 * pragmas bun:sqlite does not (WAL, synchronous=NORMAL, foreign_keys, busy_timeout) and applies the
 * embedded migrations that have not run yet. The files are made 0600: they hold password hashes, the
 * JWT secret and the grant signing key.
 */
export function openDb(path: string, migrations = MIGRATIONS): Db {
  const onDisk = path !== ":memory:" && path !== "";
  // SQLite creates -wal and -shm with the database file's mode, so the main file goes first.
  if (onDisk && existsSync(path)) chmodSync(path, 0o600);
  const sqlite = new Database(path, { create: true, strict: true });
  if (onDisk) chmodSync(path, 0o600);
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA synchronous = NORMAL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  sqlite.exec("PRAGMA busy_timeout = 5000");
  migrate(sqlite, migrations, onDisk ? path : null);
  if (onDisk) for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  return drizzle({ client: sqlite, schema }) as Db;
}

/**
 * migrate applies the migrations not applied yet. When a database that already holds data is about
 * to change (the first start of an upgraded master), a consistent copy of it is written first, as
 * `sprout.db.before-<first migration>` beside it (0600), so a failed or unwanted upgrade can go back
 * with `sprout master restore` and the previous binary.
 */
function migrate(sqlite: Database, migrations: { name: string; sql: string }[], path: string | null) {
  sqlite.exec("CREATE TABLE IF NOT EXISTS __sprout_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
  const done = new Set(sqlite.query<{ name: string }, []>("SELECT name FROM __sprout_migrations").all().map((r) => r.name));
  const pending = migrations.filter((m) => !done.has(m.name));
  if (path && done.size && pending.length) {
    const copy = `${path}.before-${pending[0]!.name}`;
    if (!existsSync(copy)) {
      sqlite.query("VACUUM INTO ?").run(copy);
      chmodSync(copy, 0o600);
    }
  }
  for (const m of pending) {
    sqlite.transaction(() => {
      for (const stmt of m.sql.split("--> statement-breakpoint")) if (stmt.trim()) sqlite.exec(stmt);
      sqlite.query("INSERT INTO __sprout_migrations (name, applied_at) VALUES (?, ?)").run(m.name, new Date().toISOString());
    })();
  }
}
