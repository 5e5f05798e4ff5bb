import { Database } from "bun:sqlite";
import { chmodSync } from "node:fs";
import { join } from "node:path";

/**
 * BlobOwners is the node's record of which account proved it holds which blob: <data>/owners.db,
 * one row per (account, digest), in SQLite (WAL: a kill -9 loses no committed row; 100,000 rows are
 * one transaction and an index lookup each). A digest alone is no capability: an account may link
 * into its deployments only blobs it uploaded here (its bytes verified), or that the master vouched
 * for when it replicated one of the account's deployments from a node where they were verified.
 */
export class BlobOwners {
  private db: Database;
  private hasStmt;
  private addStmt;
  private forgetStmt;
  private othersStmt;

  constructor(dataDir: string) {
    const path = join(dataDir, "owners.db");
    this.db = new Database(path, { create: true });
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS blob_owners (account TEXT NOT NULL, sha TEXT NOT NULL, PRIMARY KEY (account, sha)) WITHOUT ROWID;" +
        "CREATE INDEX IF NOT EXISTS blob_owners_sha ON blob_owners (sha);",
    );
    for (const f of [path, `${path}-wal`, `${path}-shm`]) {
      try {
        chmodSync(f, 0o600);
      } catch {
        /* made on first write */
      }
    }
    this.hasStmt = this.db.prepare<{ one: number }, [string, string]>("SELECT 1 AS one FROM blob_owners WHERE account = ? AND sha = ?");
    this.addStmt = this.db.prepare("INSERT OR IGNORE INTO blob_owners (account, sha) VALUES (?, ?)");
    this.forgetStmt = this.db.prepare("DELETE FROM blob_owners WHERE sha = ?");
    this.othersStmt = this.db.prepare<{ one: number }, [string, string]>("SELECT 1 AS one FROM blob_owners WHERE sha = ? AND account != ? LIMIT 1");
  }

  owns(account: string, sha: string): boolean {
    return this.hasStmt.get(account, sha) !== null;
  }

  /** ownedByOthers: some account other than `account` holds `sha`. */
  ownedByOthers(account: string, sha: string): boolean {
    return this.othersStmt.get(sha, account) !== null;
  }

  /** add records that `account` holds each of `digests` (one transaction). */
  add(account: string, digests: Iterable<string>) {
    this.db.transaction(() => {
      for (const sha of digests) this.addStmt.run(account, sha);
    })();
  }

  /** forget drops every owner of blobs that left the store. */
  forget(digests: Iterable<string>) {
    this.db.transaction(() => {
      for (const sha of digests) this.forgetStmt.run(sha);
    })();
  }

  close() {
    this.db.close();
  }
}
