import type { Services } from "../master/context";
import type { UserInfo } from "../protocol/user";
import { SproutError, forbidden } from "../shared/errors";
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
      if (c.kind === "user") return { user: toUserInfo(s.auth.user(c.userId)), cookies: [] };
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
