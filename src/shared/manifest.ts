import type { Manifest, ManifestEntry } from "../protocol/deployment";
import { badRequest } from "./errors";
import { sha256Hex } from "./ids";
import { sitePathProblem } from "./paths";

/** sortManifest orders entries by path (byte order), the canonical order for digests. */
export function sortManifest(m: Manifest): Manifest {
  return [...m].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * manifestDigest is the SHA-256 of the canonical manifest: one `path\0sha256\0size\n` line per
 * entry in path order. The master puts it in the upload grant, so an agent can tell that the manifest
 * it is handed is the one the master accepted.
 */
export function manifestDigest(m: Manifest): string {
  // Lines are hashed a thousand at a time: one native call per line cost more than the hashing.
  const h = new Bun.CryptoHasher("sha256");
  const sorted = sortManifest(m);
  for (let i = 0; i < sorted.length; i += 1000) {
    let text = "";
    for (let j = i; j < Math.min(sorted.length, i + 1000); j++) text += `${sorted[j]!.path}\0${sorted[j]!.sha256}\0${sorted[j]!.size}\n`;
    h.update(text);
  }
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
 */
export function checkManifest(m: Manifest, limits: ManifestLimits = DEFAULT_LIMITS): { files: number; bytes: number } {
  const problems: string[] = [];
  const seen = new Set<string>();
  let bytes = 0;
  if (m.length > limits.maxFiles) problems.push(`${m.length} files is over the limit of ${limits.maxFiles}`);
  for (const e of m) {
    const why = sitePathProblem(e.path);
    if (why) problems.push(`${JSON.stringify(e.path.slice(0, 200))}: ${why}`);
    if (seen.has(e.path)) problems.push(`${JSON.stringify(e.path)}: listed twice`);
    seen.add(e.path);
    if (e.size > limits.maxFileBytes) problems.push(`${JSON.stringify(e.path)}: ${e.size} bytes is over the per-file limit of ${limits.maxFileBytes}`);
    bytes += e.size;
    if (problems.length >= 20) break;
  }
  // A file and a folder of the same name cannot both exist on disk. Each folder is looked at once
  // (with its parents), not once per file in it.
  const folders = new Set<string>();
  for (const p of seen) {
    for (let cut = p.lastIndexOf("/"); cut > 0 && problems.length < 20; cut = p.lastIndexOf("/", cut - 1)) {
      const dir = p.slice(0, cut);
      if (folders.has(dir)) break;
      folders.add(dir);
      if (seen.has(dir)) problems.push(`${JSON.stringify(dir)} is both a file and a folder`);
    }
  }
  if (bytes > limits.maxTotalBytes) problems.push(`${bytes} bytes in all is over the limit of ${limits.maxTotalBytes}`);
  if (problems.length) throw badRequest("bad_manifest", `The manifest was refused: ${problems.join("; ")}.`);
  return { files: m.length, bytes };
}

/** byPath indexes a manifest. */
export function byPath(m: Manifest): Map<string, ManifestEntry> {
  return new Map(m.map((e) => [e.path, e]));
}

export { sha256Hex };
