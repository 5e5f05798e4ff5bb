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

/** KEEP_READ: hashing keeps the bytes of files up to KEEP_FILE, KEEP_TOTAL in all, for the upload. */
const KEEP_FILE = 256 * 1024;
const KEEP_TOTAL = 48 * 1024 * 1024;

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
 */
export function walkSite(root: string, extraIgnore: string[] = []): SiteFiles {
  const base = resolve(root);
  if (!existsSync(base)) throw badRequest("no_dir", `Folder ${root} does not exist.`, "Build your site first, e.g. `npm run build`, then deploy its output folder.");
  if (!statSync(base).isDirectory()) throw badRequest("not_dir", `${root} is not a folder.`);
  const rules = new DeployIgnore(base, extraIgnore);
  const out: LocalFile[] = [];
  let ignored = 0;
  const ignoredExamples: string[] = [];
  const visit = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name);
      const st = lstatSync(abs);
      const rel = relative(base, abs).split(sep).join("/");
      if (rules.leavesOut(rel, name, st.isDirectory())) {
        ignored += st.isDirectory() ? countFiles(abs) : 1;
        if (ignoredExamples.length < 5) ignoredExamples.push(st.isDirectory() ? `${rel}/` : rel);
        continue;
      }
      if (st.isSymbolicLink()) throw badRequest("symlink", `${rel} is a symbolic link; Sprout deploys regular files only.`, `Replace the link with a copy of the file, or list it in ${SPROUTIGNORE}.`);
      if (st.isDirectory()) visit(abs);
      else if (st.isFile()) {
        const why = sitePathProblem(rel);
        if (why) throw badRequest("bad_path", `${rel}: ${why}.`, `Rename it, or list it in ${SPROUTIGNORE}.`);
        out.push({ path: rel, abs, size: st.size, mtimeMs: st.mtimeMs });
      } else throw badRequest("special_file", `${rel} is not a regular file (device, socket or FIFO).`, `Remove it, or list it in ${SPROUTIGNORE}.`);
    }
  };
  visit(base);
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

type Cache = Record<string, { size: number; mtimeMs: number; sha256: string }>;

/** SYNC_READ: files up to this size are read with one blocking call when hashed. */
const SYNC_READ = 64 * 1024;

/**
 * hashFiles computes the manifest: SHA-256 of each file, several at once, streamed. A cache keyed by
 * absolute path, size and mtime skips files unchanged since the last deploy; given the deployed
 * folder as `root`, entries of its files that no longer exist are dropped.
 */
export async function hashFiles(files: LocalFile[], onProgress?: (done: number, hashed: number) => void, root?: string): Promise<{ manifest: Manifest; hashed: number }> {
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
  let kept = 0;
  let syncReads = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      const f = files[i]!;
      const hit = cache[f.abs];
      let sha: string;
      if (f.content) sha = sha256Hex(f.content);
      else if (hit && hit.size === f.size && hit.mtimeMs === f.mtimeMs) sha = hit.sha256;
      else if (f.size <= KEEP_FILE && kept + f.size <= KEEP_TOTAL) {
        // The upload (after the node says what it lacks) sends these bytes: no second read. A small
        // file is read on this thread: an asynchronous read costs more than the bytes (about half the
        // CPU of hashing a site of thousands of small files).
        const bytes = f.size <= SYNC_READ ? readFileSync(f.abs) : await Bun.file(f.abs).bytes();
        if (f.size <= SYNC_READ && ++syncReads % 256 === 0) await Bun.sleep(0); // progress output runs
        kept += bytes.length;
        f.read = bytes;
        f.size = bytes.length;
        sha = sha256Hex(bytes);
        cache[f.abs] = { size: f.size, mtimeMs: f.mtimeMs, sha256: sha };
        hashed++;
      } else {
        sha = await hashFile(f.abs);
        cache[f.abs] = { size: f.size, mtimeMs: f.mtimeMs, sha256: sha };
        hashed++;
      }
      manifest[i] = { path: f.path, sha256: sha, size: f.size };
      onProgress?.(++done, hashed);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  // Files of this folder that are gone leave the cache, so it stays the size of what is deployed;
  // an unchanged cache is not written again (a redeploy of one changed file rewrote megabytes).
  let pruned = 0;
  if (root) {
    const present = new Set(files.map((f) => f.abs));
    const under = `${resolve(root)}${sep}`;
    for (const k of Object.keys(cache)) if (k.startsWith(under) && !present.has(k) && delete cache[k]) pruned++;
  }
  if (!hashed && !pruned) return { manifest: sortManifest(manifest), hashed };
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
