import { t } from "elysia";
import { Id, SiteName } from "./common";

/**
 * Credentials registers (POST /api/user, only with `--registration open`) or logs in
 * (POST /api/user/token).
 */
export const Credentials = t.Object({
  email: t.String({ format: "email", maxLength: 254 }),
  password: t.String({ minLength: 8, maxLength: 1024 }),
});
export type Credentials = typeof Credentials.static;

/**
 * Registered answers POST /api/user. It is the same whether or not the email already had an account,
 * so registration does not tell a stranger which emails exist; logging in tells the owner.
 */
export const Registered = t.Object({ ok: t.Literal(true), message: t.String() });
export type Registered = typeof Registered.static;

/** UserCreate is POST /api/users (admin): invite a user; without a password one is generated. */
export const UserCreate = t.Object({
  email: t.String({ format: "email", maxLength: 254 }),
  password: t.Optional(t.String({ minLength: 8, maxLength: 1024 })),
});
export type UserCreate = typeof UserCreate.static;

/** UserInfo is a user as the API shows it (GET /api/user/info). */
export const UserInfo = t.Object({
  id: Id,
  email: t.String(),
  is_admin: t.Boolean(),
  created_at: t.String(),
  /** disabled_at: when the admin disabled the account (it cannot log in, its tokens fail), else null. */
  disabled_at: t.Optional(t.Union([t.String(), t.Null()])),
});
export type UserInfo = typeof UserInfo.static;

/** UserCreated answers POST /api/users: `password` only when it was generated, shown this once. */
export const UserCreated = t.Composite([UserInfo, t.Object({ password: t.Optional(t.String()) })]);
export type UserCreated = typeof UserCreated.static;

/** TokenPair answers a login or a refresh: a short-lived access JWT and a rotating refresh token. */
export const TokenPair = t.Object({
  access_token: t.String(),
  refresh_token: t.String(),
  token_type: t.Literal("Bearer"),
  /** Seconds until access_token expires. */
  expires_in: t.Number(),
});
export type TokenPair = typeof TokenPair.static;

/** RefreshRequest is POST /api/token/refresh. A refresh token works once; reusing one revokes its family. */
export const RefreshRequest = t.Object({ refresh_token: t.String({ minLength: 1, maxLength: 512 }) });
export type RefreshRequest = typeof RefreshRequest.static;

/** PasswordChange is POST /api/user/password; it revokes every other session of the user. */
export const PasswordChange = t.Object({
  old_password: t.String({ minLength: 1, maxLength: 1024 }),
  new_password: t.String({ minLength: 8, maxLength: 1024 }),
});
export type PasswordChange = typeof PasswordChange.static;

/**
 * ApiTokenScope is what an API token may do. `read`: only GET. `deploy` (the default): everything its
 * owner may do with their sites (limited to `sites` when given), nothing an admin may. `admin`: also
 * the admin's routes, when the owner is the admin. No API token mints tokens or changes the password.
 */
export const ApiTokenScope = t.Union([t.Literal("read"), t.Literal("deploy"), t.Literal("admin")]);
export type ApiTokenScope = typeof ApiTokenScope.static;

/** ApiTokenCreate is POST /api/tokens: a long-lived token for CI, shown once. */
export const ApiTokenCreate = t.Object({
  name: t.String({ minLength: 1, maxLength: 100 }),
  scope: t.Optional(ApiTokenScope),
  /** sites limits a `deploy` token to these sites. */
  sites: t.Optional(t.Array(SiteName, { minItems: 1, maxItems: 100 })),
  /** expires_in: seconds until the token stops working; without it, it works until revoked. */
  expires_in: t.Optional(t.Integer({ minimum: 1, maximum: 10 * 365 * 24 * 3600 })),
});
export type ApiTokenCreate = typeof ApiTokenCreate.static;

/** ApiTokenInfo is an API token as listed (GET /api/tokens); the secret is never shown again. */
export const ApiTokenInfo = t.Object({
  id: Id,
  name: t.String(),
  scope: ApiTokenScope,
  sites: t.Union([t.Array(SiteName), t.Null()]),
  expires_at: t.Union([t.String(), t.Null()]),
  created_at: t.String(),
  last_used_at: t.Union([t.String(), t.Null()]),
});
export type ApiTokenInfo = typeof ApiTokenInfo.static;

/** ApiTokenCreated answers POST /api/tokens: the only time `token` is shown. */
export const ApiTokenCreated = t.Composite([ApiTokenInfo, t.Object({ token: t.String() })]);
export type ApiTokenCreated = typeof ApiTokenCreated.static;

/** UserDisable is POST /api/users/:id/disable (admin): `disabled: false` enables the account again. */
export const UserDisable = t.Object({ disabled: t.Boolean() });
export type UserDisable = typeof UserDisable.static;
