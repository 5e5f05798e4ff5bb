import { asc, eq, ne } from "drizzle-orm";
import type { Db } from "../../db";
import { deploymentChunks, deployments, manifestChunks } from "../../db/schema";
import type { Manifest } from "../../protocol/deployment";
import { chunkManifest, parseChunk, type ManifestChunk } from "../../shared/manifest-chunks";
import { sortManifest } from "../../shared/manifest";
import { logger } from "../../shared/log";

const log = logger("manifests");

/**
 * ManifestStore keeps deployments' manifests as shared chunks: a chunk already stored (by any
 * deployment of any site) is not stored again, so the master's storage grows with distinct files,
 * not with files times deployments. The master reads a manifest back only to replicate a deployment.
 */
export class ManifestStore {
  constructor(private db: Db) {}

  /**
   * put stores a deployment's manifest (sorted by path) as its chunks; call it inside the
   * transaction that inserts the deployment. Answers how many chunks were new.
   */
  put(deploymentId: string, sorted: Manifest): number {
    return this.putChunks(deploymentId, chunkManifest(sorted));
  }

  /** putChunks is put of a manifest already cut into chunks (the master derives its digest from them too). */
  putChunks(deploymentId: string, chunks: ManifestChunk[]): number {
    // Prepared statements on the same connection (so inside the caller's transaction): building
    // each insert through the query builder cost more than the inserts of a 10,000-file manifest.
    const st = (this.statements ??= {
      chunk: this.db.$client.prepare("INSERT INTO manifest_chunks (digest, entries, files) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
      ref: this.db.$client.prepare("INSERT INTO deployment_chunks (deployment_id, seq, digest) VALUES (?, ?, ?)"),
    });
    let added = 0;
    chunks.forEach((c, seq) => {
      added += st.chunk.run(c.digest, c.text, c.files).changes;
      st.ref.run(deploymentId, seq, c.digest);
    });
    return added;
  }

  private statements?: { chunk: ReturnType<Db["$client"]["prepare"]>; ref: ReturnType<Db["$client"]["prepare"]> };

  /** get answers a deployment's manifest, in path order. */
  get(deploymentId: string): Manifest {
    const rows = this.db
      .select({ entries: manifestChunks.entries })
      .from(deploymentChunks)
      .innerJoin(manifestChunks, eq(manifestChunks.digest, deploymentChunks.digest))
      .where(eq(deploymentChunks.deploymentId, deploymentId))
      .orderBy(asc(deploymentChunks.seq))
      .all();
    if (rows.length) return rows.flatMap((r) => parseChunk(r.entries));
    // A row made before chunks that convertLegacy has not reached yet.
    const legacy = this.db.select({ manifest: deployments.manifest }).from(deployments).where(eq(deployments.id, deploymentId)).get();
    return legacy?.manifest ? (JSON.parse(legacy.manifest) as Manifest) : [];
  }

  /**
   * convertLegacy moves the manifests of rows made before chunks into chunks and empties their
   * JSON column, a batch per transaction. Idempotent: a row is converted and emptied at once.
   */
  convertLegacy(): number {
    let n = 0;
    for (;;) {
      const rows = this.db.select({ id: deployments.id, manifest: deployments.manifest }).from(deployments).where(ne(deployments.manifest, "")).limit(100).all();
      if (!rows.length) break;
      this.db.transaction((tx) => {
        for (const r of rows) {
          tx.delete(deploymentChunks).where(eq(deploymentChunks.deploymentId, r.id)).run();
          this.put(r.id, sortManifest(JSON.parse(r.manifest) as Manifest));
          tx.update(deployments).set({ manifest: "" }).where(eq(deployments.id, r.id)).run();
        }
      });
      n += rows.length;
    }
    if (n) log.info("manifests moved to shared chunks", { deployments: n });
    return n;
  }

  /** collect removes the chunks no deployment lists any more (their sites were deleted). */
  collect(): number {
    const n = this.db.$client
      .query("DELETE FROM manifest_chunks WHERE NOT EXISTS (SELECT 1 FROM deployment_chunks WHERE deployment_chunks.digest = manifest_chunks.digest)")
      .run().changes;
    if (n) log.info("unused manifest chunks removed", { chunks: n });
    return n;
  }
}
