import { lstatSync, readdirSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync, statSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import type { Manifest } from "../protocol/deployment";
import { SproutError, badRequest } from "../shared/errors";
import { sha256Hex } from "../shared/ids";
import { sortManifest } from "../shared/manifest";
import { sitePathProblem } from "../shared/paths";
import { cacheDir } from "./credentials";
import { verify as cryptVerify } from "unixcrypt";
import { hashPassword, rewriteBasicAuth, toCryptForm } from "../shared/htpasswd";

/** Folders and files that never belong to a built site. */
const SKIP = new Set([".git", "node_modules", ".DS_Store", ".sprout"]);

export interface LocalFile {
  path: string;
  abs: string;
  size: number;
  mtimeMs: number;
  /** content replaces the file's bytes in the upload (a `_headers` with hashed passwords). */
  content?: Uint8Array;
}

/**
 * walkSite lists the regular files of a built site. A symbolic link or special file is an error that
 * names it, raised before anything is sent: the node accepts regular files only.
 */
export function walkSite(root: string): LocalFile[] {
  const base = resolve(root);
  if (!existsSync(base)) throw badRequest("no_dir", `Folder ${root} does not exist.`, "Build your site first, e.g. `npm run build`, then deploy its output folder.");
  if (!statSync(base).isDirectory()) throw badRequest("not_dir", `${root} is not a folder.`);
  const out: LocalFile[] = [];
  const visit = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (SKIP.has(name)) continue;
      const abs = join(dir, name);
      const st = lstatSync(abs);
      const rel = relative(base, abs).split(sep).join("/");
      if (st.isSymbolicLink()) throw badRequest("symlink", `${rel} is a symbolic link; Sprout deploys regular files only.`, "Replace the link with a copy of the file.");
      if (st.isDirectory()) visit(abs);
      else if (st.isFile()) {
        const why = sitePathProblem(rel);
        if (why) throw badRequest("bad_path", `${rel}: ${why}.`);
        out.push({ path: rel, abs, size: st.size, mtimeMs: st.mtimeMs });
      } else throw badRequest("special_file", `${rel} is not a regular file (device, socket or FIFO).`);
    }
  };
  visit(base);
  if (!out.length) throw badRequest("empty", `${root} has no files to deploy.`);
  return out;
}

/**
 * protectPasswords replaces the plain Basic-Auth passwords of a root `_headers` by SHA-512 crypt
 * hashes with a random salt before anything is sent, so they never leave this machine; nodes compile
 * the hashes as they are. A password hashed by an earlier deploy of the site keeps its hash (kept in
 * the CLI's cache, checked against the password), so an unchanged file uploads and reloads nothing.
 */
export function protectPasswords(files: LocalFile[], site: string): void {
  const f = files.find((x) => x.path === "_headers");
  if (!f) return;
  const cacheFile = join(cacheDir(), "basic-auth.json");
  let cache: Record<string, string> = {};
  try {
    cache = JSON.parse(readFileSync(cacheFile, "utf8")) as Record<string, string>;
  } catch {
    /* first deploy with Basic-Auth */
  }
  let changed = false;
  const redacted = rewriteBasicAuth(readFileSync(f.abs, "utf8"), (user, password) => {
    const key = `${site}\0${user}`;
    const known = cache[key];
    if (known && cryptVerify(password, toCryptForm(known))) return known;
    changed = true;
    return (cache[key] = hashPassword(password));
  });
  if (redacted === null) return;
  f.content = new TextEncoder().encode(redacted);
  f.size = f.content.length;
  if (!changed) return;
  try {
    mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
    writeFileSync(`${cacheFile}.tmp`, JSON.stringify(cache), { mode: 0o600 });
    renameSync(`${cacheFile}.tmp`, cacheFile);
  } catch {
    /* without the cache the next deploy hashes again (and reloads the node's nginx once) */
  }
}

type Cache = Record<string, { size: number; mtimeMs: number; sha256: string }>;

/**
 * hashFiles computes the manifest: SHA-256 of each file, several at once, streamed. A cache keyed by
 * absolute path, size and mtime skips files unchanged since the last deploy.
 */
export async function hashFiles(files: LocalFile[], onProgress?: (done: number, hashed: number) => void): Promise<{ manifest: Manifest; hashed: number }> {
  const cacheFile = join(cacheDir(), "hashes.json");
  let cache: Cache = {};
  try {
    cache = JSON.parse(readFileSync(cacheFile, "utf8")) as Cache;
  } catch {
    /* no cache yet */
  }
  const manifest: Manifest = new Array(files.length);
  let next = 0;
  let done = 0;
  let hashed = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const f = files[i]!;
      const hit = cache[f.abs];
      let sha: string;
      if (f.content) sha = sha256Hex(f.content);
      else if (hit && hit.size === f.size && hit.mtimeMs === f.mtimeMs) sha = hit.sha256;
      else {
        sha = await hashFile(f.abs);
        cache[f.abs] = { size: f.size, mtimeMs: f.mtimeMs, sha256: sha };
        hashed++;
      }
      manifest[i] = { path: f.path, sha256: sha, size: f.size };
      onProgress?.(++done, hashed);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  try {
    mkdirSync(cacheDir(), { recursive: true });
    writeFileSync(`${cacheFile}.tmp`, JSON.stringify(cache));
    renameSync(`${cacheFile}.tmp`, cacheFile);
  } catch {
    /* a read-only cache only costs speed */
  }
  return { manifest: sortManifest(manifest), hashed };
}

async function hashFile(path: string): Promise<string> {
  const file = Bun.file(path);
  if (file.size <= 1 << 20) return sha256Hex(new Uint8Array(await file.arrayBuffer()));
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of file.stream()) h.update(chunk);
  return h.digest("hex");
}

export { SproutError };
