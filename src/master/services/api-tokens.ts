import { and, desc, eq } from "drizzle-orm";
import type { Db } from "../../db";
import { apiTokens } from "../../db/schema";
import { badRequest, notFound } from "../../shared/errors";
import { TOKEN_PREFIX, newId, newSecret, sha256Hex } from "../../shared/ids";
import type { ApiTokenCreate, ApiTokenCreated, ApiTokenInfo } from "../../protocol/user";
import { now } from "../config";

type Row = typeof apiTokens.$inferSelect;
const info = (r: Row): ApiTokenInfo => ({
  id: r.id,
  name: r.name,
  scope: r.scope,
  sites: r.sites ? (JSON.parse(r.sites) as string[]) : null,
  expires_at: r.expiresAt,
  created_at: r.createdAt,
  last_used_at: r.lastUsedAt,
});

/**
 * ApiTokenService manages long-lived tokens for CI; the secret is shown once, only its hash is kept.
 * A token has a scope (read, deploy, admin), may be limited to some sites and may expire; what it may
 * do is enforced by AuthService.authorize.
 */
export class ApiTokenService {
  constructor(private db: Db) {}

  create(userId: string, req: ApiTokenCreate): ApiTokenCreated {
    const scope = req.scope ?? "deploy";
    if (req.sites && scope !== "deploy")
      throw badRequest("invalid_request", "Only a deploy token can be limited to sites.", "Drop --site, or use --scope deploy.");
    const token = TOKEN_PREFIX.api + newSecret(32);
    const row: Row = {
      id: newId(),
      userId,
      name: req.name,
      tokenHash: sha256Hex(token),
      createdAt: now(),
      lastUsedAt: null,
      scope,
      sites: req.sites ? JSON.stringify([...new Set(req.sites)]) : null,
      expiresAt: req.expires_in ? new Date(Date.now() + req.expires_in * 1000).toISOString() : null,
    };
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
