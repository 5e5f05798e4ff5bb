// Migrations at master start are backed up first (operations issue): the first start of an upgraded
// master writes a consistent copy of the database as it was before changing it.
import { afterAll, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../../src/db";
import { MIGRATIONS } from "../../src/db/migrations";

const dir = mkdtempSync(join(tmpdir(), "sprout-migrate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a database about to be migrated is copied first; a new one and an up-to-date one are not", () => {
  const path = join(dir, "sprout.db");
  const older = openDb(path, MIGRATIONS.slice(0, -1));
  older.$client.exec("INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'kept@example.com', 'x', '2026-01-01')");
  older.$client.close();
  expect(readdirSync(dir).filter((f) => f.includes(".before-"))).toEqual([]);

  const upgraded = openDb(path);
  upgraded.$client.close();
  const last = MIGRATIONS.at(-1)!.name;
  const copy = join(dir, `sprout.db.before-${last}`);
  expect(existsSync(copy)).toBe(true);
  expect(statSync(copy).mode & 0o777).toBe(0o600);
  const before = new Database(copy, { readonly: true });
  expect(before.query("SELECT name FROM __sprout_migrations").all().map((r: any) => r.name)).not.toContain(last);
  expect(before.query("SELECT email FROM users").all()).toEqual([{ email: "kept@example.com" }]);
  before.close();

  openDb(path).$client.close();
  expect(readdirSync(dir).filter((f) => f.includes(".before-")).length).toBe(1);
});
