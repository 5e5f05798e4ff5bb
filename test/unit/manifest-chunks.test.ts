// Manifests are stored as shared chunks (shared/manifest-chunks.ts, master/services/manifests.ts):
// where a chunk ends depends only on paths, so a change touches only the chunk that lists it, and
// deployments recorded before chunks are converted at the master's start.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../../src/db";
import { MIGRATIONS } from "../../src/db/migrations";
import { ManifestStore } from "../../src/master/services/manifests";
import { chunkManifest, parseChunk } from "../../src/shared/manifest-chunks";
import { sortManifest } from "../../src/shared/manifest";
import type { Manifest } from "../../src/protocol/deployment";

const dir = mkdtempSync(join(tmpdir(), "sprout-chunks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const digest = (n: number) => n.toString(16).padStart(64, "0");
function site(files: number, changed = -1): Manifest {
  const m: Manifest = [];
  for (let i = 0; i < files; i++) m.push({ path: `d${i % 40}/page-${i}.html`, sha256: digest(i === changed ? i + 1_000_000 : i), size: i });
  return sortManifest(m);
}

test("chunks read back as the manifest they were cut from, and stay small", () => {
  const m = site(5000);
  const chunks = chunkManifest(m);
  expect(chunks.flatMap((c) => parseChunk(c.text))).toEqual(m);
  expect(chunks.length).toBeGreaterThan(20);
  expect(Math.max(...chunks.map((c) => c.files))).toBeLessThanOrEqual(256);
});

test("one changed file changes one chunk; an added file changes at most two", () => {
  const before = new Set(chunkManifest(site(2000)).map((c) => c.digest));
  const changed = chunkManifest(site(2000, 777)).filter((c) => !before.has(c.digest));
  expect(changed.length).toBe(1);
  expect(parseChunk(changed[0]!.text).some((e) => e.path.endsWith("page-777.html"))).toBe(true);
  const added = sortManifest([...site(2000), { path: "d3/new.html", sha256: digest(9), size: 1 }]);
  expect(chunkManifest(added).filter((c) => !before.has(c.digest)).length).toBeLessThanOrEqual(2);
});

test("a deployment recorded with its manifest in its row is moved to shared chunks at start, once", () => {
  const path = join(dir, "sprout.db");
  const older = openDb(path, MIGRATIONS.filter((m) => m.name < "0014"));
  const legacy = site(300);
  older.$client.exec("INSERT INTO users (id, email, password_hash, created_at) VALUES ('u1', 'a@example.com', 'x', '2026-01-01')");
  older.$client.exec("INSERT INTO sites (id, name, owner_id, created_at) VALUES ('s1', 'legacy', 'u1', '2026-01-01')");
  const insert = older.$client.query(
    "INSERT INTO deployments (id, site_id, status, production, manifest_digest, manifest, files_total, bytes_total, created_at) VALUES (?, 's1', 'ready', 1, 'x', ?, 300, 0, '2026-01-01')",
  );
  insert.run("d1", JSON.stringify(legacy));
  insert.run("d2", JSON.stringify(legacy));
  older.$client.close();

  const db = openDb(path);
  const store = new ManifestStore(db);
  expect(store.get("d1")).toEqual(legacy);
  expect(store.convertLegacy()).toBe(2);
  expect(store.convertLegacy()).toBe(0);
  const q = (sql: string) => db.$client.query(sql).get() as Record<string, number>;
  expect(q("SELECT count(*) AS n FROM deployments WHERE manifest != ''").n).toBe(0);
  // Both deployments list the same chunks, stored once.
  expect(q("SELECT sum(files) AS n FROM manifest_chunks").n).toBe(300);
  expect(store.get("d1")).toEqual(legacy);
  expect(store.get("d2")).toEqual(legacy);
  expect(store.collect()).toBe(0);
  db.$client.exec("DELETE FROM sites");
  expect(store.collect()).toBeGreaterThan(0);
  expect(q("SELECT count(*) AS n FROM manifest_chunks").n).toBe(0);
  db.$client.close();
});
