import { t } from "elysia";
import { Id } from "./common";

/** Credentials registers (POST /api/user) or logs in (POST /api/user/token). */
export const Credentials = t.Object({
  email: t.String({ format: "email", maxLength: 254 }),
  password: t.String({ minLength: 8, maxLength: 1024 }),
});
export type Credentials = typeof Credentials.static;

/** UserInfo is a user as the API shows it (GET /api/user/info). */
export const UserInfo = t.Object({
  id: Id,
  email: t.String(),
  is_admin: t.Boolean(),
  created_at: t.String(),
});
export type UserInfo = typeof UserInfo.static;

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

/** ApiTokenCreate is POST /api/tokens: a long-lived token for CI, shown once. */
export const ApiTokenCreate = t.Object({ name: t.String({ minLength: 1, maxLength: 100 }) });
export type ApiTokenCreate = typeof ApiTokenCreate.static;

/** ApiTokenInfo is an API token as listed (GET /api/tokens); the secret is never shown again. */
export const ApiTokenInfo = t.Object({
  id: Id,
  name: t.String(),
  created_at: t.String(),
  last_used_at: t.Union([t.String(), t.Null()]),
});
export type ApiTokenInfo = typeof ApiTokenInfo.static;

/** ApiTokenCreated answers POST /api/tokens: the only time `token` is shown. */
export const ApiTokenCreated = t.Composite([ApiTokenInfo, t.Object({ token: t.String() })]);
export type ApiTokenCreated = typeof ApiTokenCreated.static;
