import { and, eq, isNull } from "drizzle-orm";
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import type { Db } from "../../db";
import { agents, apiTokens, refreshTokens, users } from "../../db/schema";
import { SproutError, badRequest, forbidden, tooMany, unauthorized } from "../../shared/errors";
import { TOKEN_PREFIX, newId, newSecret, sha256Hex } from "../../shared/ids";
import type { TokenPair, UserInfo } from "../../protocol/user";
import { now, type MasterConfig } from "../config";
import type { MasterKeys } from "./keys";

/** Caller is who a request acts as, once its bearer token checked out. */
export type Caller =
  | { kind: "user"; userId: string; isAdmin: boolean; via: "jwt" | "api_token" }
  | { kind: "agent"; agentId: string };

type UserRow = typeof users.$inferSelect;

/** toUserInfo is a user as the API shows it. */
export const toUserInfo = (u: UserRow): UserInfo => ({ id: u.id, email: u.email, is_admin: u.isAdmin, created_at: u.createdAt });

/**
 * AuthService registers and logs users in, issues and rotates tokens, and resolves a bearer token
 * into a Caller. Only hashes of tokens are stored; passwords are argon2id (Bun.password).
 */
export class AuthService {
  private failures = new Map<string, number[]>();

  constructor(
    private db: Db,
    private keys: MasterKeys,
    private config: MasterConfig,
  ) {}

  async register(email: string, password: string): Promise<UserRow> {
    email = email.trim().toLowerCase();
    const first = !this.db.select({ id: users.id }).from(users).limit(1).get();
    if (!first && this.config.registration === "closed")
      throw forbidden("Registration is closed on this Sprout.", "Ask the admin to create an account for you.");
    if (this.db.select({ id: users.id }).from(users).where(eq(users.email, email)).get())
      throw new SproutError(409, "email_taken", "An account with this email already exists.", "Log in with `sprout login`.");
    const row: UserRow = {
      id: newId(),
      email,
      passwordHash: await Bun.password.hash(password, "argon2id"),
      isAdmin: first,
      createdAt: now(),
    };
    this.db.insert(users).values(row).run();
    return row;
  }

  /** login checks a password, rate-limited per email and per client address. */
  async login(email: string, password: string, clientIp: string): Promise<TokenPair> {
    email = email.trim().toLowerCase();
    this.checkRate(`e:${email}`, 5);
    this.checkRate(`i:${clientIp}`, 20);
    const user = this.db.select().from(users).where(eq(users.email, email)).get();
    // Verify against a dummy hash when the user is unknown so timing does not reveal accounts.
    const ok = await Bun.password.verify(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !ok) {
      this.fail(`e:${email}`);
      this.fail(`i:${clientIp}`);
      throw new SproutError(401, "bad_credentials", "Wrong email or password.");
    }
    return this.issuePair(user.id, newId());
  }

  /** refresh rotates a refresh token; presenting one that was already used revokes its whole family. */
  async refresh(token: string): Promise<TokenPair> {
    const row = token.startsWith(TOKEN_PREFIX.refresh)
      ? this.db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, sha256Hex(token))).get()
      : undefined;
    if (!row) throw new SproutError(401, "invalid_token", "This refresh token is not valid.", "Run `sprout login`.");
    if (row.usedAt || row.revokedAt) {
      this.revokeFamily(row.familyId);
      throw new SproutError(401, "token_reused", "This refresh token was already used; every session of its login is now revoked.", "Run `sprout login`.");
    }
    if (row.expiresAt < now()) throw new SproutError(401, "token_expired", "Your session expired.", "Run `sprout login`.");
    const claimed = this.db
      .update(refreshTokens)
      .set({ usedAt: now() })
      .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.usedAt)))
      .returning({ id: refreshTokens.id })
      .all();
    if (claimed.length !== 1) {
      this.revokeFamily(row.familyId);
      throw new SproutError(401, "token_reused", "This refresh token was already used.", "Run `sprout login`.");
    }
    return this.issuePair(row.userId, row.familyId);
  }

  /** changePassword needs the old password and revokes every refresh token of the user. */
  async changePassword(userId: string, oldPassword: string, newPassword: string) {
    const user = this.db.select().from(users).where(eq(users.id, userId)).get();
    if (!user) throw unauthorized();
    if (!(await Bun.password.verify(oldPassword, user.passwordHash)))
      throw new SproutError(403, "bad_credentials", "The old password is wrong.");
    this.db.update(users).set({ passwordHash: await Bun.password.hash(newPassword, "argon2id") }).where(eq(users.id, userId)).run();
    this.db.update(refreshTokens).set({ revokedAt: now() }).where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt))).run();
  }

  /** logout revokes the family of a refresh token (used by the UI and `sprout logout`). */
  logout(token: string) {
    const row = this.db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, sha256Hex(token))).get();
    if (row) this.revokeFamily(row.familyId);
  }

  user(userId: string): UserRow {
    const u = this.db.select().from(users).where(eq(users.id, userId)).get();
    if (!u) throw unauthorized("This account no longer exists.");
    return u;
  }

  /**
   * authenticate resolves `Authorization: Bearer <token>` into a Caller. Token kinds are told apart by
   * prefix (API spt_, agent spa_) or shape (JWT); `want` refuses the wrong kind with a clear message.
   */
  async authenticate(header: string | null | undefined, want: "user" | "agent"): Promise<Caller> {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? "");
    if (!m) throw want === "user" ? unauthorized() : unauthorized("Agent token required.", "Start the agent with --token.");
    const token = m[1]!;
    if (token.startsWith(TOKEN_PREFIX.agent)) {
      if (want === "user")
        throw new SproutError(401, "wrong_token_kind", "This is an agent token; user routes need a user token.", "Run `sprout login` or use an API token (sprout tokens create).");
      const agent = this.db.select({ id: agents.id }).from(agents).where(eq(agents.tokenHash, sha256Hex(token))).get();
      if (!agent) throw new SproutError(401, "invalid_token", "The master does not know this agent token.", "Rotate it with `POST /api/<agent_id>/token` and restart the agent.");
      return { kind: "agent", agentId: agent.id };
    }
    if (want === "agent")
      throw new SproutError(401, "wrong_token_kind", "This is a user token; agent routes need an agent token.");
    if (token.startsWith(TOKEN_PREFIX.api)) {
      const row = this.db.select().from(apiTokens).where(eq(apiTokens.tokenHash, sha256Hex(token))).get();
      if (!row) throw new SproutError(401, "invalid_token", "This API token is not valid (revoked or mistyped).");
      this.db.update(apiTokens).set({ lastUsedAt: now() }).where(eq(apiTokens.id, row.id)).run();
      const u = this.user(row.userId);
      return { kind: "user", userId: u.id, isAdmin: u.isAdmin, via: "api_token" };
    }
    if (token.startsWith(TOKEN_PREFIX.refresh))
      throw new SproutError(401, "wrong_token_kind", "This is a refresh token; send it to POST /api/token/refresh, not as a bearer token.");
    let sub: string;
    try {
      const { payload } = await jwtVerify(token, this.keys.jwtSecret, { algorithms: ["HS256"] });
      if (payload.typ !== "access" || typeof payload.sub !== "string") throw new Error("not an access token");
      sub = payload.sub;
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired)
        throw new SproutError(401, "token_expired", "Your session expired.", "Run `sprout login` (the CLI refreshes it for you when it can).");
      throw new SproutError(401, "invalid_token", "This token is not valid.", "Run `sprout login`.");
    }
    const u = this.user(sub);
    return { kind: "user", userId: u.id, isAdmin: u.isAdmin, via: "jwt" };
  }

  /** signAccess makes an access JWT; exported for tests that need an expired one. */
  signAccess(userId: string, ttlSeconds = this.config.accessTtl, issuedAt = Math.floor(Date.now() / 1000)) {
    return new SignJWT({ typ: "access" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(userId)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttlSeconds)
      .sign(this.keys.jwtSecret);
  }

  private async issuePair(userId: string, familyId: string): Promise<TokenPair> {
    const refresh = TOKEN_PREFIX.refresh + newSecret(32);
    this.db
      .insert(refreshTokens)
      .values({
        id: newId(),
        userId,
        familyId,
        tokenHash: sha256Hex(refresh),
        expiresAt: new Date(Date.now() + this.config.refreshTtl * 1000).toISOString(),
        createdAt: now(),
      })
      .run();
    return { access_token: await this.signAccess(userId), refresh_token: refresh, token_type: "Bearer", expires_in: this.config.accessTtl };
  }

  private revokeFamily(familyId: string) {
    this.db.update(refreshTokens).set({ revokedAt: now() }).where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt))).run();
  }

  private checkRate(key: string, max: number) {
    const recent = (this.failures.get(key) ?? []).filter((t) => t > Date.now() - 60_000);
    this.failures.set(key, recent);
    if (recent.length >= max) throw tooMany("Too many failed logins. Wait a minute and try again.");
  }

  private fail(key: string) {
    this.failures.set(key, [...(this.failures.get(key) ?? []), Date.now()]);
  }
}

const DUMMY_HASH = await Bun.password.hash("sprout-dummy-password", "argon2id");

/** requireUser narrows a Caller to a user or throws. */
export function requireAdmin(c: Caller) {
  if (c.kind !== "user" || !c.isAdmin) throw forbidden("Only the admin can do this.");
  return c;
}

export { badRequest };
