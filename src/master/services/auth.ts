import { and, eq, isNull, sql } from "drizzle-orm";
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import type { Db } from "../../db";
import { agents, apiTokens, refreshTokens, users } from "../../db/schema";
import { SproutError, badRequest, conflict, forbidden, unauthorized } from "../../shared/errors";
import { TOKEN_PREFIX, newId, newSecret, sha256Hex } from "../../shared/ids";
import type { ApiTokenScope, Registered, TokenPair, UserCreated, UserInfo } from "../../protocol/user";
import { now, type MasterConfig } from "../config";
import { normalizePath } from "../client";
import type { MasterKeys } from "./keys";
import { LoginThrottle } from "./login-throttle";

/**
 * Caller is who a request acts as, once its bearer token checked out. A user's `scope` is "session"
 * for a login (JWT) and the token's scope for an API token; `isAdmin` is true only when both the user
 * is the admin and the credential may act as admin; `sites` limits a `deploy` token.
 */
export type Caller =
  | { kind: "user"; userId: string; isAdmin: boolean; via: "jwt" | "api_token"; scope: "session" | ApiTokenScope; sites: string[] | null }
  | { kind: "agent"; agentId: string };
export type UserCaller = Extract<Caller, { kind: "user" }>;

type UserRow = typeof users.$inferSelect;

/** toUserInfo is a user as the API shows it. */
export const toUserInfo = (u: UserRow): UserInfo => ({ id: u.id, email: u.email, is_admin: u.isAdmin, created_at: u.createdAt, disabled_at: u.disabledAt });

/**
 * AuthService registers and logs users in, issues and rotates tokens, and resolves a bearer token
 * into a Caller. Only hashes of tokens are stored; passwords are argon2id (Bun.password).
 */
export class AuthService {
  private throttle = new LoginThrottle();

  /** agentByHash is prepared once: every heartbeat and long poll of every node runs it. */
  private agentByHash;

  constructor(
    private db: Db,
    private keys: MasterKeys,
    private config: MasterConfig,
  ) {
    this.agentByHash = db.select({ id: agents.id }).from(agents).where(eq(agents.tokenHash, sql.placeholder("hash"))).prepare();
    // Every authenticated request runs these two: prepared once (drizzle's query building cost more
    // than SQLite's lookups, and capped the API at a few hundred requests a second).
    this.userById = db.select().from(users).where(eq(users.id, sql.placeholder("id"))).prepare();
    this.liveSession = db
      .select({ id: refreshTokens.id })
      .from(refreshTokens)
      .where(and(eq(refreshTokens.familyId, sql.placeholder("family")), isNull(refreshTokens.revokedAt)))
      .limit(1)
      .prepare();
  }

  private userById;
  private liveSession;

  /**
   * register creates an ordinary account when registration is open. It answers the same whether or
   * not the email was taken (and hashes the password either way, so timing does not tell either):
   * only the owner, by logging in, learns that the account is theirs.
   */
  async register(email: string, password: string): Promise<Registered> {
    if (this.config.registration === "closed")
      throw forbidden("Registration is closed on this Sprout.", "Ask the admin to create an account for you (`sprout users invite EMAIL`).");
    const row = await this.newUser(email, password);
    this.db.insert(users).values(row).onConflictDoNothing({ target: users.email }).run();
    return { ok: true, message: "If this email had no account, it has one now: log in with `sprout login`." };
  }

  /**
   * ensureAdmin creates the admin at start (`sprout master --admin-email`) when there is none, in one
   * transaction (a unique index allows one admin, whatever races). The password is the given one, or
   * a generated one answered here to be shown once. An existing non-admin account with that email is
   * never promoted: whoever registered it may not be the operator.
   */
  async ensureAdmin(email: string, password?: string): Promise<{ created: boolean; password?: string }> {
    const generated = password ? undefined : newSecret(15);
    const row = { ...(await this.newUser(email, password ?? generated!)), isAdmin: true };
    const created = this.db.transaction((tx) => {
      if (tx.select({ id: users.id }).from(users).where(eq(users.isAdmin, true)).get()) return false;
      if (tx.select({ id: users.id }).from(users).where(eq(users.email, row.email)).get())
        throw conflict("email_taken", `An account with the admin email ${row.email} exists and is not the admin.`, "Start the master with another --admin-email.");
      tx.insert(users).values(row).run();
      return true;
    }, { behavior: "immediate" });
    return created ? { created, ...(generated ? { password: generated } : {}) } : { created };
  }

  /** createUser is the admin inviting someone; without a password one is generated and answered once. */
  async createUser(email: string, password?: string): Promise<UserCreated> {
    const generated = password ? undefined : newSecret(15);
    const row = await this.newUser(email, password ?? generated!);
    const inserted = this.db.insert(users).values(row).onConflictDoNothing({ target: users.email }).returning({ id: users.id }).all();
    if (inserted.length !== 1) throw conflict("email_taken", "An account with this email already exists.", "List accounts with `sprout users`.");
    return { ...toUserInfo(row), ...(generated ? { password: generated } : {}) };
  }

  /** hasAdmin tells whether the admin exists (the master warns at start when not). */
  hasAdmin(): boolean {
    return !!this.db.select({ id: users.id }).from(users).where(eq(users.isAdmin, true)).get();
  }

  /** listUsers is every account, for the admin. */
  listUsers(): UserInfo[] {
    return this.db.select().from(users).orderBy(users.createdAt).all().map(toUserInfo);
  }

  private async newUser(email: string, password: string): Promise<UserRow> {
    return {
      id: newId(),
      email: email.trim().toLowerCase(),
      passwordHash: await Bun.password.hash(password, "argon2id"),
      isAdmin: false,
      createdAt: now(),
      disabledAt: null,
    };
  }

  /**
   * login checks a password, throttled (services/login-throttle.ts): refused for a while per account
   * and address and per address, only delayed per account, so the owner is never locked out.
   */
  async login(email: string, password: string, clientIp: string): Promise<TokenPair> {
    email = email.trim().toLowerCase();
    const delay = this.throttle.before(email, clientIp);
    // Every attempt the throttle let through is marked done, whatever happens, so none stays counted as under way.
    let user: UserRow | undefined;
    try {
      if (delay > 0) await Bun.sleep(delay);
      user = this.db.select().from(users).where(eq(users.email, email)).get();
      // Verify against a dummy hash when the user is unknown so timing does not reveal accounts.
      const ok = await Bun.password.verify(password, user?.passwordHash ?? (await dummyHash()));
      if (!user || !ok) {
        this.throttle.failed(email, clientIp);
        throw new SproutError(401, "bad_credentials", "Wrong email or password.");
      }
      this.throttle.succeeded(email, clientIp);
    } finally {
      this.throttle.done(email, clientIp);
    }
    // Told only to someone who knows the password: it says what to do instead of "wrong password".
    if (user!.disabledAt) throw disabled();
    return this.issuePair(user!.id, newId());
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
    if (this.user(row.userId).disabledAt) throw disabled();
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

  /**
   * changePassword needs the old password and ends every session of the user (their access tokens
   * stop at once: they name a revoked login) and deletes every API token.
   */
  async changePassword(userId: string, oldPassword: string, newPassword: string) {
    const user = this.db.select().from(users).where(eq(users.id, userId)).get();
    if (!user) throw unauthorized();
    if (!(await Bun.password.verify(oldPassword, user.passwordHash)))
      throw new SproutError(403, "bad_credentials", "The old password is wrong.");
    this.db.update(users).set({ passwordHash: await Bun.password.hash(newPassword, "argon2id") }).where(eq(users.id, userId)).run();
    this.db.update(refreshTokens).set({ revokedAt: now() }).where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt))).run();
    this.db.delete(apiTokens).where(eq(apiTokens.userId, userId)).run();
  }

  /**
   * setDisabled disables an account (it cannot log in; every login ends at once; its API tokens fail
   * while it stays disabled) or enables it again (its API tokens work again; logins start anew). Its
   * sites stay online: disabling stops a person, not their visitors. The admin cannot be disabled.
   */
  setDisabled(userId: string, disable: boolean): UserInfo {
    const u = this.db.select().from(users).where(eq(users.id, userId)).get();
    if (!u) throw new SproutError(404, "not_found", "User not found.", "List users with GET /api/users.");
    if (u.isAdmin) throw forbidden("The admin's account cannot be disabled.");
    this.db.update(users).set({ disabledAt: disable ? (u.disabledAt ?? now()) : null }).where(eq(users.id, userId)).run();
    if (disable) this.db.update(refreshTokens).set({ revokedAt: now() }).where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt))).run();
    return toUserInfo(this.user(userId));
  }

  /** logout revokes the family of a refresh token (used by the UI and `sprout logout`). */
  logout(token: string) {
    const row = this.db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, sha256Hex(token))).get();
    if (row) this.revokeFamily(row.familyId);
  }

  user(userId: string): UserRow {
    const u = this.userById.get({ id: userId });
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
      const agent = this.agentByHash.get({ hash: sha256Hex(token) });
      if (!agent) throw new SproutError(401, "invalid_token", "The master does not know this agent token.", "An admin makes a new one with `sprout agents rotate-token NAME`; restart the agent with it.");
      return { kind: "agent", agentId: agent.id };
    }
    if (want === "agent")
      throw new SproutError(401, "wrong_token_kind", "This is a user token; agent routes need an agent token.");
    if (token.startsWith(TOKEN_PREFIX.api)) {
      const row = this.db.select().from(apiTokens).where(eq(apiTokens.tokenHash, sha256Hex(token))).get();
      if (!row) throw new SproutError(401, "invalid_token", "This API token is not valid (revoked or mistyped).");
      if (row.expiresAt && row.expiresAt <= now())
        throw new SproutError(401, "token_expired", `The API token "${row.name}" expired.`, "Create another with `sprout tokens create NAME`.");
      this.db.update(apiTokens).set({ lastUsedAt: now() }).where(eq(apiTokens.id, row.id)).run();
      const u = this.user(row.userId);
      if (u.disabledAt) throw disabled();
      const sites = row.sites ? (JSON.parse(row.sites) as string[]) : null;
      return { kind: "user", userId: u.id, isAdmin: u.isAdmin && row.scope === "admin", via: "api_token", scope: row.scope, sites };
    }
    if (token.startsWith(TOKEN_PREFIX.refresh))
      throw new SproutError(401, "wrong_token_kind", "This is a refresh token; send it to POST /api/token/refresh, not as a bearer token.");
    let sub: string;
    let sid: unknown;
    try {
      const { payload } = await jwtVerify(token, this.keys.jwtSecret, { algorithms: ["HS256"] });
      if (payload.typ !== "access" || typeof payload.sub !== "string") throw new Error("not an access token");
      sub = payload.sub;
      sid = payload.sid;
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired)
        throw new SproutError(401, "token_expired", "Your session expired.", "Run `sprout login` (the CLI refreshes it for you when it can).");
      throw new SproutError(401, "invalid_token", "This token is not valid.", "Run `sprout login`.");
    }
    // An access token names its login (the refresh family): once that ended, so did the token.
    if (typeof sid !== "string" || !this.sessionAlive(sid))
      throw new SproutError(401, "session_ended", "This session has ended (logged out, password changed or revoked).", "Run `sprout login`.");
    const u = this.user(sub);
    if (u.disabledAt) throw disabled();
    return { kind: "user", userId: u.id, isAdmin: u.isAdmin, via: "jwt", scope: "session", sites: null };
  }

  /**
   * authorize applies an API token's scope to a request (a login may do all its user may): no API
   * token mints tokens or changes the password; `read` only reads; a `deploy` token limited to sites
   * touches only those (`site` is the one the request names, else read from /api/site/<name>).
   */
  authorize(c: UserCaller, method: string, path: string, site?: string) {
    if (c.via !== "api_token") return;
    // The router also answers `/api/tokens/`, `/api/tokens/.` and `//`: compare the path it means.
    path = normalizePath(path);
    if (SESSION_ONLY.some(([m, p]) => m === method && p === path))
      throw forbidden("An API token cannot create tokens or change the password.", "Log in with `sprout login` to do this.");
    const reads = method === "GET" || method === "HEAD";
    if (c.scope === "read" && !reads) throw forbidden("This API token is read-only.", "Create a deploy token: `sprout tokens create NAME --scope deploy`.");
    if (c.sites) {
      const named = site ?? /^\/api\/site\/([^/]+)/.exec(path)?.[1];
      if (named ? !c.sites.includes(named) : !reads)
        throw forbidden(`This API token may only deploy to ${c.sites.join(", ")}.`, "Use a token created with --site for this site.");
    }
  }

  /**
   * sessions lists a person's logins that are still alive (refresh families with a token neither
   * revoked nor expired), the most recently used first: when each started and was last refreshed.
   * An access token lasts at most --access-ttl past its login's last refresh.
   */
  sessions(userId: string): { id: string; started_at: string; last_used_at: string; expires_at: string }[] {
    return this.db
      .select({
        id: refreshTokens.familyId,
        started_at: sql<string>`min(${refreshTokens.createdAt})`,
        last_used_at: sql<string>`max(${refreshTokens.createdAt})`,
        expires_at: sql<string>`max(${refreshTokens.expiresAt})`,
        live: sql<number>`sum(${refreshTokens.revokedAt} IS NULL AND ${refreshTokens.usedAt} IS NULL)`,
      })
      .from(refreshTokens)
      .where(eq(refreshTokens.userId, userId))
      .groupBy(refreshTokens.familyId)
      .all()
      .filter((f) => f.live > 0 && f.expires_at > now())
      .sort((a, b) => b.last_used_at.localeCompare(a.last_used_at))
      .map(({ live: _, ...f }) => f);
  }

  /** sessionOf answers the login (refresh family) a refresh token belongs to, if any. */
  sessionOf(refreshToken: string): string | null {
    return this.db.select({ f: refreshTokens.familyId }).from(refreshTokens).where(eq(refreshTokens.tokenHash, sha256Hex(refreshToken))).get()?.f ?? null;
  }

  /** endSession ends one of the person's logins at once (its access tokens stop too); another's is not found. */
  endSession(userId: string, sessionId: string) {
    const mine = this.db.select({ id: refreshTokens.id }).from(refreshTokens).where(and(eq(refreshTokens.familyId, sessionId), eq(refreshTokens.userId, userId))).limit(1).get();
    if (!mine) throw new SproutError(404, "not_found", "That session was not found.", "Reload the page to see your sessions.");
    this.revokeFamily(sessionId);
  }

  /** sessionAlive tells whether a login (refresh family) still has a token that was not revoked. */
  sessionAlive(familyId: string): boolean {
    return !!this.liveSession.get({ family: familyId });
  }

  /** signAccess makes an access JWT of login `sid`; exported for tests that need an expired one. */
  signAccess(userId: string, sid: string, ttlSeconds = this.config.accessTtl, issuedAt = Math.floor(Date.now() / 1000)) {
    return new SignJWT({ typ: "access", sid })
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
    return { access_token: await this.signAccess(userId, familyId), refresh_token: refresh, token_type: "Bearer", expires_in: this.config.accessTtl };
  }

  private revokeFamily(familyId: string) {
    this.db.update(refreshTokens).set({ revokedAt: now() }).where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt))).run();
  }
}


/** disabled is the answer to anything a disabled account tries. */
const disabled = () => new SproutError(403, "account_disabled", "This account is disabled.", "Ask the admin to enable it again.");

/** SESSION_ONLY are the routes only a logged-in person may call, never an API token. */
const SESSION_ONLY: [string, string][] = [
  ["POST", "/api/tokens"],
  ["POST", "/api/user/password"],
];

/** dummyHash is verified against when the email is unknown, so timing does not tell; made on first use (not at every CLI start). */
let dummy: Promise<string> | null = null;
const dummyHash = () => (dummy ??= Bun.password.hash("sprout-dummy-password", "argon2id"));

/** requireAdmin narrows a Caller to the admin (by login, or an admin-scoped API token) or throws. */
export function requireAdmin(c: Caller) {
  if (c.kind !== "user" || !c.isAdmin) throw forbidden("Only the admin can do this.");
  return c;
}

export { badRequest };
