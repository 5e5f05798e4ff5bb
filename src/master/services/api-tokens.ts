import { and, desc, eq } from "drizzle-orm";
import type { Db } from "../../db";
import { apiTokens } from "../../db/schema";
import { notFound } from "../../shared/errors";
import { TOKEN_PREFIX, newId, newSecret, sha256Hex } from "../../shared/ids";
import type { ApiTokenCreated, ApiTokenInfo } from "../../protocol/user";
import { now } from "../config";

type Row = typeof apiTokens.$inferSelect;
const info = (r: Row): ApiTokenInfo => ({ id: r.id, name: r.name, created_at: r.createdAt, last_used_at: r.lastUsedAt });

/** ApiTokenService manages long-lived tokens for CI; the secret is shown once, only its hash is kept. */
export class ApiTokenService {
  constructor(private db: Db) {}

  create(userId: string, name: string): ApiTokenCreated {
    const token = TOKEN_PREFIX.api + newSecret(32);
    const row: Row = { id: newId(), userId, name, tokenHash: sha256Hex(token), createdAt: now(), lastUsedAt: null };
    this.db.insert(apiTokens).values(row).run();
    return { ...info(row), token };
  }

  list(userId: string): ApiTokenInfo[] {
    return this.db.select().from(apiTokens).where(eq(apiTokens.userId, userId)).orderBy(desc(apiTokens.createdAt)).all().map(info);
  }

  /** revoke deletes one of the caller's tokens; someone else's answers 404 like a missing one. */
  revoke(userId: string, id: string) {
    const gone = this.db.delete(apiTokens).where(and(eq(apiTokens.id, id), eq(apiTokens.userId, userId))).returning({ id: apiTokens.id }).all();
    if (gone.length !== 1) throw notFound("API token");
  }
}
