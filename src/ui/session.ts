import { decodeJwt } from "jose";
import type { Services } from "../master/context";
import type { UserInfo } from "../protocol/user";
import { SproutError, forbidden, unauthorized } from "../shared/errors";
import type { UserCaller } from "../master/services/auth";
import { toUserInfo } from "../master/services/auth";

/**
 * cookieNames: over HTTPS the session's cookies carry the `__Host-` prefix, which a browser takes only
 * from this very host (Secure, Path=/, no Domain). Without it a tenant's page on a sibling subdomain
 * (blog.sites.example.com beside sprout.example.com) could set `sprout_access` for all of example.com
 * from its own script, and the master would read it: the visitor locked out of the UI, or signed in
 * as the tenant without noticing (cookie tossing; SameSite does not help, the sites are same-site).
 * Over plain HTTP browsers refuse the prefix, so the plain names stay for a master on loopback.
 */
const cookieNames = (secure: boolean) =>
  secure ? { access: "__Host-sprout_access", refresh: "__Host-sprout_refresh" } : { access: "sprout_access", refresh: "sprout_refresh" };

/** UiSession is the signed-in user of a browser request, and cookies to send back (a refresh). */
export interface UiSession {
  user: UserInfo;
  cookies: string[];
  /** secure: the browser came over HTTPS (its cookies are the `__Host-` ones). */
  secure: boolean;
  /** alive tells whether this login still stands (not logged out, ended, password changed, disabled): long streams ask it. */
  alive: () => boolean;
}

const cookie = (name: string, value: string, maxAge: number, secure: boolean) =>
  `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? "; Secure" : ""}`;

/**
 * sessionCookies stores a token pair in HttpOnly, SameSite=Strict cookies, `Secure` when the browser
 * came over HTTPS (directly, or through a trusted proxy: see master/client.ts).
 */
export function sessionCookies(pair: { access_token: string; refresh_token: string }, secure: boolean): string[] {
  const n = cookieNames(secure);
  return [cookie(n.access, pair.access_token, 30 * 24 * 3600, secure), cookie(n.refresh, pair.refresh_token, 30 * 24 * 3600, secure)];
}

/** clearCookies ends the browser session (a `__Host-` cookie is only replaced by a Secure one). */
export const clearCookies = (secure: boolean) => {
  const n = cookieNames(secure);
  return [n.access, n.refresh].map((name) => `${name}=; Path=/; Max-Age=0${secure ? "; Secure" : ""}`);
};

/** refreshToken reads the session's refresh token (to revoke it on log out). */
export function refreshToken(req: Request, secure: boolean): string | null {
  return new Bun.CookieMap(req.headers.get("cookie") ?? "").get(cookieNames(secure).refresh);
}

/**
 * session resolves the browser's cookies to a user; an expired access token is refreshed (rotating
 * the refresh token) without the user noticing. Answers null when there is no valid session.
 */
export async function session(s: Services, req: Request, secure: boolean): Promise<UiSession | null> {
  const jar = new Bun.CookieMap(req.headers.get("cookie") ?? "");
  const n = cookieNames(secure);
  const access = jar.get(n.access);
  const refresh = jar.get(n.refresh);
  if (access) {
    try {
      const c = await s.auth.authenticate(`Bearer ${access}`, "user");
      // Only a login (JWT) is a session: an API token put in the cookie would act with its owner's
      // full rights here (a read token minting tokens, the admin's read token opening admin pages).
      if (c.kind === "user" && c.via === "jwt") return { user: toUserInfo(s.auth.user(c.userId)), cookies: [], secure, alive: aliveCheck(s, access) };
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
    return { user: toUserInfo(s.auth.user(c.userId)), cookies: sessionCookies(pair, secure), secure, alive: aliveCheck(s, pair.access_token) };
  } catch {
    return null;
  }
}

/**
 * aliveCheck answers whether the login of an access token (verified just before) still stands: its
 * refresh family has a token not revoked. Logging out, ending the session from another browser,
 * changing the password and disabling the account all revoke it. The token's expiry is not looked
 * at: a stream outliving it is bounded by its own lifetime, and reconnects with a refreshed one.
 */
function aliveCheck(s: Services, accessToken: string): () => boolean {
  const sid = decodeJwt(accessToken).sid;
  return () => typeof sid === "string" && s.auth.sessionAlive(sid);
}

/**
 * checkSameOrigin refuses a state-changing request sent from another origin. SameSite=Strict cookies
 * do not keep out a tenant's page on a sibling subdomain (the same site), so this is the lock that
 * matters. An opaque origin (`Origin: null`, from a sandboxed frame or a data: URL) or one that is
 * not a URL is another origin too. A request without Origin is let through only if the browser did
 * not say it came from elsewhere (Sec-Fetch-Site): scripts and curl send neither header.
 */
export function checkSameOrigin(req: Request) {
  const origin = req.headers.get("origin");
  if (origin === null) {
    const fetchSite = req.headers.get("sec-fetch-site");
    if (fetchSite !== null && fetchSite !== "same-origin" && fetchSite !== "none") throw forbidden("Cross-site request refused.");
    return;
  }
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
export async function apiCaller(s: Services, req: Request, secure: boolean, site?: string): Promise<UserCaller> {
  const access = new Bun.CookieMap(req.headers.get("cookie") ?? "").get(cookieNames(secure).access);
  if (req.headers.get("authorization") || !access) return s.user(req, site);
  if (!req.headers.get("origin")) throw forbidden("A browser session must send an Origin header.", "Use an API token from scripts: `sprout tokens create NAME`.");
  checkSameOrigin(req);
  const c = await s.auth.authenticate(`Bearer ${access}`, "user");
  // The cookie holds a login; an API token belongs in Authorization (see session()).
  if (c.kind !== "user" || c.via !== "jwt") throw unauthorized();
  s.auth.authorize(c, req.method, new URL(req.url).pathname, site);
  return c;
}
