import { appendFileSync, lstatSync, readdirSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, renameSync, statSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import type { Manifest } from "../protocol/deployment";
import { SproutError, badRequest } from "../shared/errors";
import { sha256Hex } from "../shared/ids";
import { plainSitePath, sortManifest } from "../shared/manifest";
import { sitePathProblem } from "../shared/paths";
import { cacheDir } from "./credentials";
import { verify as cryptVerify } from "unixcrypt";
import { hashPassword, rewriteBasicAuth, toCryptForm } from "../shared/htpasswd";
import { DeployIgnore, SPROUTIGNORE, countFiles } from "./deploy-ignore";

export interface LocalFile {
  path: string;
  abs: string;
  size: number;
  mtimeMs: number;
  /** content replaces the file's bytes in the upload (a `_headers` with hashed passwords). */
  content?: Uint8Array;
  /** read: the bytes hashing read (small files, within a memory budget), so the upload reads none again. */
  read?: Uint8Array;
}

/**
 * Hashing keeps the bytes of files up to KEEP_FILE, KEEP_TOTAL in all, for the upload. A small
 * budget: a site of thousands of small files is read once, but holding tens of MB of buffers made
 * every later read slower (hashing 100 MB in 5,000 files took 600-950 ms keeping 48 MB, 330-370 ms
 * keeping none), while reading the rest again during the upload overlaps the node's writing.
 */
const KEEP_FILE = 256 * 1024;
const KEEP_TOTAL = 8 * 1024 * 1024;

/** SiteFiles is what a deploy sends, and how many files it left out (see deploy-ignore.ts). */
export interface SiteFiles {
  files: LocalFile[];
  /** ignored: files left out (dotfiles, node_modules, .sproutignore), counted inside left-out folders too. */
  ignored: number;
  /** ignoredExamples: the first few left-out paths (folders end in `/`), to show the user. */
  ignoredExamples: string[];
}

/**
 * walkSite lists the regular files of a built site, leaving out dotfiles, dot-folders (except
 * `.well-known`), `node_modules` and what `.sproutignore` (or sprout.json's `ignore`) names. A symbolic link or special file
 * that is not left out is an error that names it, raised before anything is sent: the node accepts
 * regular files only.
 *
 * Files come in the manifest's canonical order (see sortManifest), so nothing sorts them again: each
 * folder's entries are ordered by name, a folder's name taken with its trailing `/` (`a.b` then `a/`).
 * It costs one `readdir` per folder (with entry types, so a folder needs no `lstat`) and one `lstat`
 * per file, as `rsync` does; paths are built by concatenation.
 */
export function walkSite(root: string, extraIgnore: string[] = []): SiteFiles {
  const base = resolve(root);
  if (!existsSync(base)) throw badRequest("no_dir", `Folder ${root} does not exist.`, "Build your site first, e.g. `npm run build`, then deploy its output folder.");
  if (!statSync(base).isDirectory()) throw badRequest("not_dir", `${root} is not a folder.`);
  const rules = new DeployIgnore(base, extraIgnore);
  const out: LocalFile[] = [];
  let ignored = 0;
  const ignoredExamples: string[] = [];
  const leftOut = (abs: string, rel: string, isDir: boolean) => {
    ignored += isDir ? countFiles(abs) : 1;
    if (ignoredExamples.length < 5) ignoredExamples.push(isDir ? `${rel}/` : rel);
  };
  // dir: absolute, ending with the separator; prefix: its path in the site, "" or ending with "/".
  const visit = (dir: string, prefix: string) => {
    const entries = readdirSync(dir, { withFileTypes: true }).map((d) => ({ name: d.name, dir: d.isDirectory(), key: d.isDirectory() ? `${d.name}/` : d.name }));
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const e of entries) {
      const abs = dir + e.name;
      const rel = prefix + e.name;
      if (e.dir) {
        if (rules.leavesOut(rel, e.name, true)) leftOut(abs, rel, true);
        else visit(abs + sep, `${rel}/`);
        continue;
      }
      // Files (and entries the file system did not type): one lstat, for size and mtime.
      const st = lstatSync(abs);
      if (st.isDirectory()) {
        // A folder readdir could not type (some file systems): ordered as a file name, which only
        // costs a sort of the manifest later (hashFiles checks the order).
        if (rules.leavesOut(rel, e.name, true)) leftOut(abs, rel, true);
        else visit(abs + sep, `${rel}/`);
        continue;
      }
      if (rules.leavesOut(rel, e.name, false)) {
        leftOut(abs, rel, false);
        continue;
      }
      if (st.isSymbolicLink()) throw badRequest("symlink", `${rel} is a symbolic link; Sprout deploys regular files only.`, `Replace the link with a copy of the file, or list it in ${SPROUTIGNORE}.`);
      if (!st.isFile()) throw badRequest("special_file", `${rel} is not a regular file (device, socket or FIFO).`, `Remove it, or list it in ${SPROUTIGNORE}.`);
      const why = plainSitePath(rel) ? null : sitePathProblem(rel);
      if (why) throw badRequest("bad_path", `${rel}: ${why}.`, `Rename it, or list it in ${SPROUTIGNORE}.`);
      out.push({ path: rel, abs, size: st.size, mtimeMs: st.mtimeMs });
    }
  };
  visit(base.endsWith(sep) ? base : base + sep, "");
  if (!out.length)
    throw badRequest("empty", `${root} has no files to deploy${ignored ? ` (${ignored} left out: dotfiles, node_modules and ${SPROUTIGNORE} patterns)` : ""}.`);
  return { files: out, ignored, ignoredExamples };
}

/**
 * protectPasswords replaces the plain Basic-Auth passwords of a root `_headers` by SHA-512 crypt
 * hashes with a random salt before anything is sent, so they never leave this machine; nodes compile
 * the hashes as they are. A password hashed by an earlier deploy of the site keeps its hash (see
 * passwordHasher), so an unchanged file uploads and reloads nothing.
 */
export function protectPasswords(files: LocalFile[], site: string): void {
  const f = files.find((x) => x.path === "_headers");
  if (!f) return;
  const hasher = passwordHasher(site);
  const redacted = rewriteBasicAuth(readFileSync(f.abs, "utf8"), (user, password) => hasher.hash(user, password));
  if (redacted === null) return;
  f.content = new TextEncoder().encode(redacted);
  f.size = f.content.length;
  hasher.save();
}

/**
 * passwordHasher hashes a site's Basic-Auth passwords (SHA-512 crypt, random salt), answering the
 * hash an earlier deploy made for the same user and password (kept in the CLI's cache, checked
 * against the password) so the rules file stays the same; `save` keeps new hashes for next time.
 */
export function passwordHasher(site: string): { hash(user: string, password: string): string; save(): void } {
  const cacheFile = join(cacheDir(), "basic-auth.json");
  let cache: Record<string, string> = {};
  try {
    cache = JSON.parse(readFileSync(cacheFile, "utf8")) as Record<string, string>;
  } catch {
    /* first deploy with Basic-Auth */
  }
  let changed = false;
  return {
    hash(user, password) {
      const key = `${site}\0${user}`;
      const known = cache[key];
      if (known && cryptVerify(password, toCryptForm(known))) return known;
      changed = true;
      return (cache[key] = hashPassword(password));
    },
    save() {
      if (!changed) return;
      try {
        mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
        writeFileSync(`${cacheFile}.tmp`, JSON.stringify(cache), { mode: 0o600 });
        renameSync(`${cacheFile}.tmp`, cacheFile);
      } catch {
        /* without the cache the next deploy hashes again (and reloads the node's nginx once) */
      }
    },
  };
}

/** SYNC_READ: files up to this size are read with one blocking call when hashed. */
export const SYNC_READ = 64 * 1024;

/** CACHE_HEAD is the first line of a hash cache file, with the folder it is for. */
const CACHE_HEAD = "sprout hash cache v2";

/** CACHE_MAX_AGE_MS: the cache file of a folder not deployed for this long is removed (by a later deploy that rewrites its own). */
const CACHE_MAX_AGE_MS = 90 * 24 * 3600 * 1000;

/**
 * hashCacheName names the hash cache of the deployed folder `root`, in `<cache dir>/hashes/`: one
 * file per folder, so a deploy reads the entries of its own files only.
 */
export function hashCacheName(root: string): string {
  return `${sha256Hex(resolve(root)).slice(0, 32)}.txt`;
}

function hashCacheFile(root: string): string {
  return join(cacheDir(), "hashes", hashCacheName(root));
}

/**
 * readHashCacheText starts reading the hash cache of `root` (null when there is none). The read runs
 * off the main thread: started before walkSite, it costs the deploy nothing while the walk runs.
 */
export function readHashCacheText(root: string): Promise<string | null> {
  return Bun.file(hashCacheFile(root)).text().catch(() => null);
}

interface CacheEntry {
  size: number;
  mtimeMs: number;
  sha256: string;
}

/**
 * readHashCache reads a folder's hash cache: after the head line, one `sha256\tsize\tmtimeMs\tpath\n`
 * line per file (path relative to the folder), later lines winning. A line must be whole and have
 * exactly these four fields: a line cut short by a crash while appending, or glued to the next one,
 * is ignored. `valid` is false when the file is missing or is not this format for this folder.
 */
function readHashCache(text: string | null, base: string): { entries: Map<string, CacheEntry>; lines: number; valid: boolean } {
  const entries = new Map<string, CacheEntry>();
  if (text === null) return { entries, lines: 0, valid: false };
  const head = text.indexOf("\n");
  if (head === -1 || text.slice(0, head) !== `${CACHE_HEAD}\t${base}`) return { entries, lines: 0, valid: false };
  let lines = 0;
  for (let at = head + 1, end = text.indexOf("\n", at); end !== -1; at = end + 1, end = text.indexOf("\n", at)) {
    const a = text.indexOf("\t", at);
    const b = a === -1 ? -1 : text.indexOf("\t", a + 1);
    const c = b === -1 ? -1 : text.indexOf("\t", b + 1);
    if (a - at !== 64 || b === -1 || c === -1 || c >= end) continue;
    const extra = text.indexOf("\t", c + 1);
    if (extra !== -1 && extra < end) continue;
    const size = Number(text.slice(a + 1, b));
    const mtimeMs = Number(text.slice(b + 1, c));
    if (b === a + 1 || c === b + 1 || !Number.isFinite(size) || !Number.isFinite(mtimeMs) || c + 1 === end) continue;
    entries.set(text.slice(c + 1, end), { size, mtimeMs, sha256: text.slice(at, a) });
    lines++;
  }
  return { entries, lines, valid: true };
}

const cacheLine = (sha: string, size: number, mtimeMs: number, key: string) => `${sha}\t${size}\t${mtimeMs}\t${key}\n`;

/**
 * hashFiles computes the manifest of the files walkSite(root) found: SHA-256 of each file, several at
 * once, streamed. The folder's hash cache (keyed by path, size and mtime, as rsync decides what
 * changed) skips files unchanged since the last deploy; `cacheText` is its text when the caller
 * started reading it before the walk (readHashCacheText). Files hashed now are appended to it, so a
 * redeploy of one changed file writes one line; the file is rewritten whole (only what the folder
 * holds now) when files were removed, when repeated appends made it much larger than the folder, or
 * when it is missing or from an older version. A redeploy that hashed nothing writes nothing.
 */
export async function hashFiles(
  files: LocalFile[],
  onProgress: ((done: number, hashed: number) => void) | undefined,
  root: string,
  cacheText: Promise<string | null> = readHashCacheText(root),
): Promise<{ manifest: Manifest; hashed: number }> {
  const base = resolve(root);
  const prefix = base.endsWith(sep) ? base : base + sep;
  const cacheFile = hashCacheFile(base);
  const cache = readHashCache(await cacheText, base);
  const keys: (string | null)[] = files.map((f) => (f.content === undefined && f.abs.startsWith(prefix) ? f.abs.slice(prefix.length) : null));
  const manifest: Manifest = new Array(files.length);
  const fresh: string[] = [];
  let next = 0;
  let done = 0;
  let hashed = 0;
  let kept = 0;
  let syncReads = 0;
  /** known: files whose path the cache holds (unchanged or not); the rest of its entries are files gone. */
  let known = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const f = files[i]!;
      const key = keys[i]!;
      const hit = key === null ? undefined : cache.entries.get(key);
      if (hit) known++;
      let sha: string;
      const cached = !f.content && hit !== undefined && hit.size === f.size && hit.mtimeMs === f.mtimeMs;
      if (f.content) sha = sha256Hex(f.content);
      else if (cached) sha = hit.sha256;
      else {
        if (f.size <= KEEP_FILE && kept + f.size <= KEEP_TOTAL) {
          // The upload (after the node says what it lacks) sends these bytes: no second read. A small
          // file is read on this thread: an asynchronous read costs more than the bytes (about half the
          // CPU of hashing a site of thousands of small files).
          const bytes = f.size <= SYNC_READ ? readFileSync(f.abs) : await Bun.file(f.abs).bytes();
          if (f.size <= SYNC_READ && ++syncReads % 256 === 0) await Bun.sleep(0); // progress output runs
          kept += bytes.length;
          f.read = bytes;
          f.size = bytes.length;
          sha = sha256Hex(bytes);
        } else if (f.size <= SYNC_READ) {
          // Past the memory budget, small files are still read on this thread (see above), not kept.
          sha = sha256Hex(readFileSync(f.abs));
          if (++syncReads % 256 === 0) await Bun.sleep(0);
        } else sha = await hashFile(f.abs);
        if (key !== null && !/[\t\n]/.test(key)) fresh.push(cacheLine(sha, f.size, f.mtimeMs, key));
        hashed++;
      }
      manifest[i] = { path: f.path, sha256: sha, size: f.size };
      // Progress for each file hashed, and every 256 from the cache (they take microseconds each).
      done++;
      if (onProgress && (!cached || (done & 255) === 0 || done === files.length)) onProgress(done, hashed);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const gone = cache.entries.size - known;
  try {
    if (!cache.valid || gone > 0 || cache.lines + fresh.length > 2 * files.length + 256) {
      const lines = [`${CACHE_HEAD}\t${base}\n`];
      for (let i = 0; i < files.length; i++) {
        const key = keys[i]!;
        if (key !== null && !/[\t\n]/.test(key)) lines.push(cacheLine(manifest[i]!.sha256, files[i]!.size, files[i]!.mtimeMs, key));
      }
      mkdirSync(dirname(cacheFile), { recursive: true });
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, lines.join(""));
      renameSync(tmp, cacheFile);
      forgetOldCaches(dirname(cacheFile));
    } else if (fresh.length) appendFileSync(cacheFile, fresh.join(""));
  } catch {
    /* a read-only cache only costs speed */
  }
  return { manifest: sortManifest(manifest), hashed };
}

/**
 * forgetOldCaches removes the caches of folders not deployed for CACHE_MAX_AGE_MS, and the single
 * cache of every path earlier versions kept (hashes.json), when a folder's cache is rewritten.
 */
function forgetOldCaches(dir: string) {
  rmSync(join(cacheDir(), "hashes.json"), { force: true });
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    try {
      if (now - statSync(p).mtimeMs > CACHE_MAX_AGE_MS) rmSync(p, { force: true });
    } catch {
      /* removed meanwhile */
    }
  }
}

async function hashFile(path: string): Promise<string> {
  const file = Bun.file(path);
  if (file.size <= 1 << 20) return sha256Hex(new Uint8Array(await file.arrayBuffer()));
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of file.stream()) h.update(chunk);
  return h.digest("hex");
}

export { SproutError };
