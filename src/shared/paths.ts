import { badRequest } from "./errors";

/**
 * checkSitePath accepts a path of a file in a deployment or throws a 400 that names it.
 * Refused: empty, absolute, `..` or `.` segments, empty segments, backslashes, NUL and other
 * control characters, and dotfiles (see PUBLIC_DOT_FOLDER). Paths are relative and `/`-separated on
 * the wire on every OS.
 */
export function checkSitePath(path: string): string {
  const why = sitePathProblem(path);
  if (why) throw badRequest("bad_path", `Refused path ${JSON.stringify(path.slice(0, 200))}: ${why}.`);
  return path;
}

/**
 * PUBLIC_DOT_FOLDER is the one folder whose name starts with a dot that a site may publish
 * (RFC 8615: security.txt, ACME challenges, app links). Every other segment starting with `.`
 * (`.env`, `.git/config`, `.htpasswd`) is refused by the master and the agent alike, so neither the
 * CLI nor the raw API can serve a dotfile to the world.
 */
export const PUBLIC_DOT_FOLDER = ".well-known";

/** sitePathProblem says what is wrong with a deployment path, or null when it is fine. */
export function sitePathProblem(path: string): string | null {
  if (path.length === 0) return "it is empty";
  if (path.length > 1024) return "it is longer than 1024 characters";
  if (path.startsWith("/")) return "it is absolute";
  if (path.includes("\\")) return "it contains a backslash";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return "it contains a NUL or control character";
  for (const seg of path.split("/")) {
    if (seg === "..") return "it contains '..'";
    if (seg === ".") return "it contains '.' as a segment";
    if (seg === "") return "it contains an empty segment";
    if (seg.startsWith(".") && seg !== PUBLIC_DOT_FOLDER) return `"${seg.slice(0, 60)}" starts with '.': dotfiles and dot-folders are never published (only ${PUBLIC_DOT_FOLDER}/ is)`;
    if (Buffer.byteLength(seg) > 255) return "a segment is longer than 255 bytes";
  }
  return null;
}
