/** Client is who sent a request, as far as the master can tell. */
export interface Client {
  /** ip: the client's address (login throttling is keyed by it). */
  ip: string;
  /** https: the client reached us over HTTPS (then cookies are `Secure`). */
  https: boolean;
}

/** normalizeIp writes IPv4-mapped IPv6 addresses (::ffff:1.2.3.4) as plain IPv4. */
export const normalizeIp = (ip: string) => ip.trim().toLowerCase().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");

/**
 * clientOf reads a request's client. `X-Forwarded-For` and `X-Forwarded-Proto` are believed only when
 * the direct peer is one of `trustedProxies` (`sprout master --trusted-proxy`): from anyone else they
 * are whatever the sender made up. The client address is the right-most forwarded address that is
 * not itself a trusted proxy: addresses left of it were written by the client.
 */
export function clientOf(req: Request, peer: string | undefined, trustedProxies: readonly string[]): Client {
  const direct = normalizeIp(peer ?? "unknown");
  const ownHttps = new URL(req.url).protocol === "https:";
  if (!trustedProxies.includes(direct)) return { ip: direct, https: ownHttps };
  const hops = (req.headers.get("x-forwarded-for") ?? "").split(",").map(normalizeIp).filter(Boolean);
  let ip = direct;
  for (let i = hops.length - 1; i >= 0; i--) {
    ip = hops[i]!;
    if (!trustedProxies.includes(ip)) break;
  }
  const proto = (req.headers.get("x-forwarded-proto") ?? "").split(",")[0]!.trim().toLowerCase();
  return { ip, https: ownHttps || proto === "https" };
}

/** normalizePath writes a request path as routes are written: no "." segments, empty segments or trailing "/". */
export function normalizePath(path: string): string {
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return `/${out.join("/")}`;
}
