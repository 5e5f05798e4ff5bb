import type { Services } from "../master/context";
import type { UserInfo } from "../protocol/user";
import { SproutError, forbidden, unauthorized } from "../shared/errors";
import type { UserCaller } from "../master/services/auth";
import { toUserInfo } from "../master/services/auth";

const ACCESS = "sprout_access";
const REFRESH = "sprout_refresh";

/** UiSession is the signed-in user of a browser request, and cookies to send back (a refresh). */
export interface UiSession {
  user: UserInfo;
  cookies: string[];
}

const cookie = (name: string, value: string, maxAge: number, secure: boolean) =>
  `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? "; Secure" : ""}`;

/**
 * sessionCookies stores a token pair in HttpOnly, SameSite=Strict cookies, `Secure` when the browser
 * came over HTTPS (directly, or through a trusted proxy: see master/client.ts).
 */
export function sessionCookies(pair: { access_token: string; refresh_token: string }, secure: boolean): string[] {
  return [cookie(ACCESS, pair.access_token, 30 * 24 * 3600, secure), cookie(REFRESH, pair.refresh_token, 30 * 24 * 3600, secure)];
}

/** clearCookies ends the browser session. */
export const clearCookies = () => [`${ACCESS}=; Path=/; Max-Age=0`, `${REFRESH}=; Path=/; Max-Age=0`];

/** refreshToken reads the session's refresh token (to revoke it on log out). */
export function refreshToken(req: Request): string | null {
  return new Bun.CookieMap(req.headers.get("cookie") ?? "").get(REFRESH);
}

/**
 * session resolves the browser's cookies to a user; an expired access token is refreshed (rotating
 * the refresh token) without the user noticing. Answers null when there is no valid session.
 */
export async function session(s: Services, req: Request, secure: boolean): Promise<UiSession | null> {
  const jar = new Bun.CookieMap(req.headers.get("cookie") ?? "");
  const access = jar.get(ACCESS);
  const refresh = jar.get(REFRESH);
  if (access) {
    try {
      const c = await s.auth.authenticate(`Bearer ${access}`, "user");
      // Only a login (JWT) is a session: an API token put in the cookie would act with its owner's
      // full rights here (a read token minting tokens, the admin's read token opening admin pages).
      if (c.kind === "user" && c.via === "jwt") return { user: toUserInfo(s.auth.user(c.userId)), cookies: [] };
      return null;
    } catch (e) {
      if (!(e instanceof SproutError) || e.code !== "token_expired") return null;
    }
  }
  if (!refresh) return null;
  try {
    const pair = await s.auth.refresh(refresh);
    const c = await s.auth.authenticate(`Bearer ${pair.access_token}`, "user");
    if (c.kind !== "user") return null;
    return { user: toUserInfo(s.auth.user(c.userId)), cookies: sessionCookies(pair, secure) };
  } catch {
    return null;
  }
}

/**
 * checkSameOrigin refuses a state-changing request sent from another site. SameSite=Strict cookies
 * already keep them out; this is the second lock. An opaque origin (`Origin: null`, from a sandboxed
 * frame or a data: URL) or one that is not a URL is another site too.
 */
export function checkSameOrigin(req: Request) {
  const origin = req.headers.get("origin");
  if (origin === null) return;
  let host: string | null = null;
  try {
    host = new URL(origin).host;
  } catch {
    /* "null" or garbage: refused below */
  }
  if (!host || host !== req.headers.get("host")) throw forbidden("Cross-site request refused.");
}

/**
 * apiCaller resolves an API request to a user: by its bearer token as usual, or, when it carries
 * none, by the admin UI's cookie session. That is how the UI's deploy script calls
 * POST /api/deployment with the same protocol as the CLI. A cookie session must come with an
 * `Origin` header naming this host (browsers send one on every POST from a script), so another site
 * can never use a visitor's cookies here; SameSite=Strict keeps them out already. The access cookie
 * is not refreshed here: the script asks /ui/session first, which does.
 */
export async function apiCaller(s: Services, req: Request, site?: string): Promise<UserCaller> {
  const access = new Bun.CookieMap(req.headers.get("cookie") ?? "").get(ACCESS);
  if (req.headers.get("authorization") || !access) return s.user(req, site);
  if (!req.headers.get("origin")) throw forbidden("A browser session must send an Origin header.", "Use an API token from scripts: `sprout tokens create NAME`.");
  checkSameOrigin(req);
  const c = await s.auth.authenticate(`Bearer ${access}`, "user");
  // The cookie holds a login; an API token belongs in Authorization (see session()).
  if (c.kind !== "user" || c.via !== "jwt") throw unauthorized();
  s.auth.authorize(c, req.method, new URL(req.url).pathname, site);
  return c;
}
