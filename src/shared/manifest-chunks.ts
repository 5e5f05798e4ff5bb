import type { Manifest } from "../protocol/deployment";
import { sha256Hex } from "./ids";

/**
 * Manifests are kept as chunks shared by every deployment that holds them (the master stores each
 * distinct chunk once), so keeping N deployments of a site costs its distinct files, not N copies of
 * the whole list. A chunk is a run of entries in path order; where a chunk ends depends only on the
 * paths (content-defined), never on file contents or on position, so a changed file changes only the
 * chunk that lists it, and an added or removed file only its own chunk.
 */

/** BOUNDARY_MASK: a chunk ends after a path whose hash has these bits clear (about 64 entries a chunk). */
const BOUNDARY_MASK = 63;
/** MAX_CHUNK: a chunk ends after this many entries whatever the paths (a long run of unlucky names). */
const MAX_CHUNK = 256;

/** ManifestChunk is one stored chunk: its canonical text and the SHA-256 of that text. */
export interface ManifestChunk {
  digest: string;
  /**
   * text: one `path\tsha256\tsize\n` line per entry, in path order. Tabs, not the NULs of the
   * manifest digest's lines: SQLite's text functions stop at a NUL. Paths hold no control character.
   */
  text: string;
  files: number;
}

/** pathHash is FNV-1a over the path's UTF-16 code units: cheap, and fixed forever (chunking must not drift). */
function pathHash(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) {
    h ^= path.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** chunkManifest cuts a manifest sorted by path into chunks. */
export function chunkManifest(sorted: Manifest): ManifestChunk[] {
  const chunks: ManifestChunk[] = [];
  let lines: string[] = [];
  const cut = () => {
    if (!lines.length) return;
    const text = lines.join("");
    chunks.push({ digest: sha256Hex(text), text, files: lines.length });
    lines = [];
  };
  for (const e of sorted) {
    lines.push(`${e.path}\t${e.sha256}\t${e.size}\n`);
    if ((pathHash(e.path) & BOUNDARY_MASK) === 0 || lines.length >= MAX_CHUNK) cut();
  }
  cut();
  return chunks;
}

/** parseChunk reads a chunk's text back into entries. */
export function parseChunk(text: string): Manifest {
  const out: Manifest = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf("\n", at);
    const a = text.indexOf("\t", at);
    const b = text.indexOf("\t", a + 1);
    out.push({ path: text.slice(at, a), sha256: text.slice(a + 1, b), size: Number(text.slice(b + 1, end)) });
    at = end + 1;
  }
  return out;
}
