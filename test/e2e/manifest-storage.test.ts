// The master stores manifests as chunks shared between deployments (master/services/manifests.ts):
// keeping many deployments of a site costs its distinct files, not files x deployments. Measured in
// the master's own database file, read beside the running master.
import { Database } from "bun:sqlite";
import { beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Cluster, api, site, useCluster } from "../helpers/cluster";

const cl = useCluster({ agents: 2 });
let c: Cluster;
beforeAll(() => {
  c = cl();
});

function storage() {
  const db = new Database(join(c.home, "master", "sprout.db"), { readonly: true });
  try {
    const q = (sql: string) => (db.query(sql).get() as { n: number | null }).n ?? 0;
    return {
      chunks: q("SELECT count(*) AS n FROM manifest_chunks"),
      chunkEntries: q("SELECT sum(files) AS n FROM manifest_chunks"),
      chunkBytes: q("SELECT sum(length(CAST(entries AS BLOB))) AS n FROM manifest_chunks"),
      rowManifestBytes: q("SELECT sum(length(manifest)) AS n FROM deployments"),
    };
  } finally {
    db.close();
  }
}

test("20 deploys of a 2,000-file site with one changed file each store one new manifest chunk each, and deleting the site frees them", async () => {
  const files: Record<string, string> = { "index.html": "<h1>v0</h1>" };
  for (let i = 0; i < 2000; i++) files[`section-${i % 25}/page-${i}.html`] = `page ${i}\n`;
  const dir = site(files);
  const deploy = async () => {
    const r = await c.sprout(["deploy", dir, "--site", "chunked", "--prod", "--json"]);
    if (r.code !== 0) throw new Error(`deploy failed:\n${r.stderr}\n${c.logs()}`);
    return JSON.parse(r.stdout);
  };
  await deploy();
  const first = storage();
  expect(first.chunkEntries).toBe(2001);
  expect(first.rowManifestBytes).toBe(0);

  for (let i = 1; i < 20; i++) {
    writeFileSync(join(dir, `section-${i}/page-${i}.html`), `page ${i}, version ${i}\n`);
    if (i === 19) break;
    const r = await c.sprout(["deploy", dir, "--site", "chunked", "--json"]);
    if (r.code !== 0) throw new Error(`preview deploy failed:\n${r.stderr}\n${c.logs()}`);
  }
  // The 20th goes to production on both nodes: the second node stages it from the manifest the
  // master rebuilds out of chunks.
  const last = await deploy();
  const after = storage();
  expect(after.chunks - first.chunks).toBe(19);
  // About one chunk (~64 entries) per deploy, against 19 x 2,001 entries had every row kept its own.
  expect(after.chunkEntries - first.chunkEntries).toBeLessThan(19 * 256);
  expect(after.chunkBytes).toBeLessThan(first.chunkBytes * 4);
  expect(after.rowManifestBytes).toBe(0);
  for (const node of c.nodes) {
    const r = await c.get("chunked." + c.domain, "/section-19/page-19.html", node);
    expect(await r.text()).toBe("page 19, version 19\n");
  }
  expect(last.files_total).toBe(2001);

  expect((await api(c.master, "DELETE", "/api/site/chunked", undefined, c.admin.token)).status).toBeLessThan(300);
  expect(storage().chunks).toBe(0);
}, 240_000);
