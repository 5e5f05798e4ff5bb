import { Database } from "bun:sqlite";
import { join } from "node:path";
import { SproutError } from "./errors";

/** held keeps each lock's connection reachable: were it collected, the lock would go with it. */
const held = new Set<Database>();

/**
 * lockDataFolder makes sure one process at a time runs on a data folder: two masters on one database
 * would both run the scheduler (tasks sent twice, two ACME orders for one name), and two agents on
 * one folder would both drive its nginx and blob store. The lock is SQLite's exclusive lock on a small
 * file of the folder, held until the process ends: the kernel lets go of it when the process dies,
 * however it dies, so a crash never leaves a stale lock behind (Bun has no flock). Answers the
 * function that lets go; throws a SproutError when another process holds the folder.
 */
export function lockDataFolder(dir: string, role: "master" | "agent"): () => void {
  const db = new Database(join(dir, `${role}.lock`), { create: true });
  try {
    db.exec("PRAGMA busy_timeout = 0");
    // The exclusive lock of a transaction that never ends. Nothing is written (the file stays empty,
    // the journal in memory): an agent on a full disk must still start, and clean up.
    db.exec("PRAGMA journal_mode = MEMORY");
    db.exec("BEGIN EXCLUSIVE");
  } catch (e) {
    db.close();
    if (/locked|busy/i.test((e as Error).message))
      throw new SproutError(409, "data_folder_in_use", `Another ${role} runs on this data folder (--data).`, `Stop it first, or give this ${role} a data folder of its own.`);
    throw e;
  }
  held.add(db);
  return () => {
    held.delete(db);
    db.close();
  };
}
