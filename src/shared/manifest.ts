import type { Manifest, ManifestEntry } from "../protocol/deployment";
import { badRequest } from "./errors";
import { sha256Hex } from "./ids";
import { PUBLIC_DOT_FOLDER, sitePathProblem } from "./paths";

/**
 * sortManifest orders entries by path (UTF-16 code units, JavaScript's `<`), the canonical order for
 * digests. A manifest already in that order (the CLI sends one) is answered as it is, after one
 * O(n) look: callers must not change the array they get.
 */
export function sortManifest(m: Manifest): Manifest {
  if (isSorted(m)) return m;
  return [...m].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** isSorted tells whether a manifest is in path order (equal neighbours, duplicates, count as ordered). */
export function isSorted(m: Manifest): boolean {
  for (let i = 1; i < m.length; i++) if (m[i - 1]!.path > m[i]!.path) return false;
  return true;
}

/**
 * plainSitePath is a quick test that answers true only for paths sitePathProblem accepts (one pass
 * over the characters, no allocation). It answers false for some good paths too (long segments of
 * non-ASCII characters): those are then given to sitePathProblem, which says what is wrong, if anything.
 */
export function plainSitePath(p: string): boolean {
  const n = p.length;
  if (n === 0 || n > 1024) return false;
  let start = 0;
  let ascii = true;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? p.charCodeAt(i) : 47;
    if (c === 47) {
      // End of a segment: not empty, not a dot segment (but .well-known), at most 255 bytes in UTF-8
      // (a UTF-16 unit takes at most 3 bytes).
      const len = i - start;
      if (len === 0 || len > (ascii ? 255 : 85)) return false;
      if (p.charCodeAt(start) === 46 && !(len === PUBLIC_DOT_FOLDER.length && p.startsWith(PUBLIC_DOT_FOLDER, start))) return false;
      start = i + 1;
      ascii = true;
    } else if (c < 32 || c === 127 || c === 92) return false;
    else if (c > 127) ascii = false;
  }
  return true;
}

/**
 * manifestDigest is the SHA-256 of the canonical manifest (manifestText): one `path\0sha256\0size\n`
 * line per entry in path order. The master puts it in the upload grant, so an agent can tell that the
 * manifest it is handed is the one the master accepted.
 */
export function manifestDigest(m: Manifest): string {
  return sha256Hex(manifestText(m));
}

/**
 * manifestText is the canonical text of a manifest, whose SHA-256 is its digest: one
 * `path\0sha256\0size\n` line per entry, in path order. The agent keeps a pending upload's manifest
 * as this text (parseManifestText reads it back), so the one text serves the digest and the record.
 */
export function manifestText(m: Manifest): string {
  const sorted = sortManifest(m);
  let text = "";
  for (const e of sorted) text += `${e.path}\0${e.sha256}\0${e.size}\n`;
  return text;
}

/** parseManifestText reads manifestText back (a text of a checked manifest: paths hold no NUL or newline). */
export function parseManifestText(text: string): Manifest {
  const out: Manifest = [];
  for (let at = 0, end = text.indexOf("\n"); end !== -1; at = end + 1, end = text.indexOf("\n", at)) {
    const a = text.indexOf("\0", at);
    const b = text.indexOf("\0", a + 1);
    out.push({ path: text.slice(at, a), sha256: text.slice(a + 1, b), size: Number(text.slice(b + 1, end)) });
  }
  return out;
}

/**
 * manifestDigestOfLines is manifestDigest computed from a manifest's `path\tsha256\tsize\n` lines in
 * path order (the texts of its chunks, see manifest-chunks.ts), so the master does not write every
 * line a second time. Only for a manifest checkManifest accepted and whose digests are hex: no field
 * holds a tab, so each tab is a separator and becomes the digest's NUL.
 */
export function manifestDigestOfLines(texts: Iterable<string>): string {
  const h = new Bun.CryptoHasher("sha256");
  for (const t of texts) h.update(t.replaceAll("\t", "\0"));
  return h.digest("hex");
}

/** Limits on one deployment; the master and agent enforce the same numbers. */
export interface ManifestLimits {
  maxFiles: number;
  maxFileBytes: number;
  maxTotalBytes: number;
}

export const DEFAULT_LIMITS: ManifestLimits = {
  maxFiles: 100_000,
  maxFileBytes: 100 * 1024 * 1024,
  maxTotalBytes: 2 * 1024 * 1024 * 1024,
};

/**
 * checkManifest validates every path, refuses duplicates and anything over the limits, and reports
 * all problems at once (the first 20) in one 400. Returns the totals.
 *
 * A manifest in path order (what the CLI sends, checked in O(n)) needs no set of its paths: a
 * duplicate is next to its twin, and whether a folder is also a file is a binary search.
 */
export function checkManifest(m: Manifest, limits: ManifestLimits = DEFAULT_LIMITS): { files: number; bytes: number } {
  const problems: string[] = [];
  const sorted = isSorted(m);
  const seen = sorted ? null : new Set<string>();
  let bytes = 0;
  let checked = 0;
  if (m.length > limits.maxFiles) problems.push(`${m.length} files is over the limit of ${limits.maxFiles}`);
  for (let i = 0; i < m.length; i++) {
    const e = m[i]!;
    checked = i + 1;
    const why = plainSitePath(e.path) ? null : sitePathProblem(e.path);
    if (why) problems.push(`${JSON.stringify(e.path.slice(0, 200))}: ${why}`);
    if (seen ? seen.has(e.path) : i > 0 && m[i - 1]!.path === e.path) problems.push(`${JSON.stringify(e.path)}: listed twice`);
    seen?.add(e.path);
    if (e.size > limits.maxFileBytes) problems.push(`${JSON.stringify(e.path)}: ${e.size} bytes is over the per-file limit of ${limits.maxFileBytes}`);
    bytes += e.size;
    if (problems.length >= 20) break;
  }
  // A file and a folder of the same name cannot both exist on disk. Each folder is looked at once
  // (with its parents), not once per file in it; in a sorted manifest a file's folder is most often
  // the one before's, which is known without cutting the path.
  const isFile = seen ? (p: string) => seen.has(p) : (p: string) => findPath(m, p, checked);
  const folders = new Set<string>();
  let last = "";
  for (let i = 0; i < checked && problems.length < 20; i++) {
    const p = m[i]!.path;
    if (!seen && i > 0 && m[i - 1]!.path === p) continue;
    const first = p.lastIndexOf("/");
    if (first > 0 && first === last.length && p.startsWith(last)) continue;
    for (let cut = first; cut > 0 && problems.length < 20; cut = p.lastIndexOf("/", cut - 1)) {
      const dir = p.slice(0, cut);
      if (cut === first) last = dir;
      if (folders.has(dir)) break;
      folders.add(dir);
      if (isFile(dir)) problems.push(`${JSON.stringify(dir)} is both a file and a folder`);
    }
  }
  if (bytes > limits.maxTotalBytes) problems.push(`${bytes} bytes in all is over the limit of ${limits.maxTotalBytes}`);
  if (problems.length) throw badRequest("bad_manifest", `The manifest was refused: ${problems.join("; ")}.`);
  return { files: m.length, bytes };
}

/** findPath: is `path` among the first `end` entries of a manifest sorted by path (binary search). */
function findPath(sorted: Manifest, path: string, end: number): boolean {
  let lo = 0;
  let hi = end - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const p = sorted[mid]!.path;
    if (p === path) return true;
    if (p < path) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** byPath indexes a manifest. */
export function byPath(m: Manifest): Map<string, ManifestEntry> {
  return new Map(m.map((e) => [e.path, e]));
}

export { sha256Hex };
