import { existsSync, mkdirSync, renameSync, rmSync, rmdirSync, statSync, readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { BlobOwners } from "./blob-owners";
import { CompressWorker } from "./compress-worker";

/**
 * writeNew writes `bytes` to a file that must not exist yet (a fresh temporary name): one open,
 * write and close, where writeFileSync also truncates, which costs a system call per file that a
 * site of thousands of small files pays thousands of times.
 */
export function writeNew(path: string, bytes: Uint8Array) {
  const fd = openSync(path, "wx", 0o644);
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
  } finally {
    closeSync(fd);
  }
}

/**
 * SIBLINGS are the files a blob may have beside it in the store: its precompressed forms, and the
 * markers that remember a form that did not pay off. They go with the blob.
 */
const SIBLINGS = [".gz", ".nogz", ".br", ".nobr"];

/**
 * brotliQuality: assets are compressed once per blob and served many times, so the best ratio is
 * worth it (11, as build tools' precompression uses: about a sixth smaller than gzip -6 on a JS
 * bundle). Above 1 MB, 9 (about 2.5x faster, a few % larger) bounds the time one file holds the
 * brotli worker.
 */
function brotliQuality(size: number): number {
  return size > 1024 * 1024 ? 9 : 11;
}

/** QUIET_MS: how long after the last upload or staging the node counts as quiet (see BlobStore.quiet). */
const QUIET_MS = 300;

/** STARVED_PAUSE_MS: the pause before each form a node that is never quiet makes (see BlobStore.quiet). */
const STARVED_PAUSE_MS = 50;

/** SYNC_GZIP_MAX: blobs up to this size are compressed on the agent's thread (a few ms at most). */
const SYNC_GZIP_MAX = 256 * 1024;

/**
 * BlobStore is the node's content-addressed store: `<data>/blobs/<ab>/<sha256>`, immutable, 0644
 * (nginx's workers read deployments through hard links to these files). New content is written under
 * `<data>/tmp` and renamed in only once its digest checked out.
 */
export class BlobStore {
  readonly root: string;
  readonly tmpDir: string;
  private compressing = new Map<string, Promise<void>>();
  /** brotli jobs, by blob; they run one at a time (see precompress). */
  private brotliJobs = new Map<string, Promise<void>>();
  private brotliQueue: Promise<void> = Promise.resolve();
  /** worker compresses at a low CPU priority (see CompressWorker). */
  private worker = new CompressWorker();
  /** busy: uploads and stagings under way; lastBusy: when the last one ended (see quiet()). */
  private busyCount = 0;
  private lastBusy = 0;
  /** busySince: when the node's current stretch of uploads and stagings began, with no quiet moment since. */
  private busySince = 0;
  /**
   * starveMs: after this long without a quiet moment, compressed forms are made anyway, one at a
   * time with a pause between (see quiet()): a node that uploads all the time still gets them.
   */
  starveMs = 60_000;
  /** brotli: make `.br` siblings (false when nginx has no brotli_static module: gzip only). */
  brotli = false;
  /** shards that exist, so adopting a blob does not ask the file system again. */
  private shards = new Set<string>();
  /** pins: blobs in use by work in progress (replication), which collection must not remove. */
  private pins = new Map<string, number>();
  /** owners: which account proved it holds which blob (content isolation between accounts). */
  readonly owners: BlobOwners;
  /** quarantineDir keeps blobs whose bytes no longer matched their digest, out of the store. */
  readonly quarantineDir: string;
  /**
   * verifiedAt: when each blob's bytes were last checked against its name (adopted or re-checked).
   * Kept in memory, so nothing is written per check; after a restart the first reuse checks again.
   */
  private verifiedAt = new Map<string, number>();

  /** `reverifyMs`: a blob not checked for this long is checked again before a new deployment reuses it. */
  constructor(dataDir: string, private reverifyMs = 24 * 3600_000) {
    this.root = join(dataDir, "blobs");
    this.tmpDir = join(dataDir, "tmp");
    this.quarantineDir = join(dataDir, "quarantine");
    mkdirSync(dataDir, { recursive: true });
    this.owners = new BlobOwners(dataDir);
    mkdirSync(this.root, { recursive: true, mode: 0o755 });
    mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
  }

  path(sha: string): string {
    return join(this.root, sha.slice(0, 2), sha);
  }

  has(sha: string): boolean {
    return existsSync(this.path(sha));
  }

  /** missing answers the distinct digests of `digests` that the store lacks. */
  missing(digests: Iterable<string>): string[] {
    return [...new Set(digests)].filter((d) => !this.has(d));
  }

  /**
   * missingFor answers the distinct digests of `digests` that `account` cannot use here: absent, or
   * present but never proved held by this account (its bytes must come again, be verified, and then
   * the account holds it too). Works in slices and yields between them, so a manifest of 100,000
   * files never holds the event loop (heartbeats, other uploads) for long.
   */
  async missingFor(account: string, digests: Iterable<string>): Promise<string[]> {
    const out: string[] = [];
    let n = 0;
    for (const d of new Set(digests)) {
      // Presence first: on a new site most digests are absent, and one stat costs less than a query.
      if (!this.has(d) || !this.owners.owns(account, d)) out.push(d);
      if (++n % 5000 === 0) await yieldToLoop();
    }
    return out;
  }

  /** pin keeps `digests` from collection until the answered function is called. */
  pin(digests: Iterable<string>): () => void {
    const list = [...new Set(digests)];
    for (const d of list) this.pins.set(d, (this.pins.get(d) ?? 0) + 1);
    return () => {
      for (const d of list) {
        const n = (this.pins.get(d) ?? 1) - 1;
        if (n > 0) this.pins.set(d, n);
        else this.pins.delete(d);
      }
    };
  }

  /** tmpPrefix and tmpCount make temporary names unique without a random read per file. */
  private tmpPrefix = `up-${process.pid}-${randomBytes(4).toString("hex")}-`;
  private tmpCount = 0;

  /** tmpPath is a fresh temporary file name. */
  tmpPath(): string {
    return join(this.tmpDir, `${this.tmpPrefix}${++this.tmpCount}`);
  }

  /**
   * adopt moves a verified temporary file into the store (a no-op when the blob is already there);
   * answers whether it was new. `absent`: the caller saw the store lack it just now, with no await
   * in between, so it is not asked again.
   */
  adopt(tmp: string, sha: string, absent = false): boolean {
    const dest = this.path(sha);
    const shard = sha.slice(0, 2);
    if (!this.shards.has(shard)) {
      mkdirSync(join(this.root, shard), { recursive: true, mode: 0o755 });
      this.shards.add(shard);
    }
    if (!absent && existsSync(dest)) {
      unlinkSync(tmp);
      return false;
    }
    renameSync(tmp, dest);
    this.verifiedAt.set(sha, Date.now());
    return true;
  }

  /**
   * putSmall stores a small blob whose bytes were just verified against `sha`, written straight
   * under its final name: a temporary file and a rename cost two more directory changes per file,
   * the largest cost of uploading a site of thousands of small files. Open, write and close run
   * with no await between them, so no other work of this agent sees a half-written blob; a process
   * killed mid-write can leave a short file under the digest's name, which is never trusted
   * unchecked: after a restart every blob counts as unverified, `verify` checks one before a new
   * deployment reuses it, and putSmall compares an unverified one with the bytes it holds (and
   * replaces it, through a rename, when they differ). Answers whether the blob is new here.
   */
  putSmall(sha: string, bytes: Uint8Array): boolean {
    const dest = this.path(sha);
    const shard = sha.slice(0, 2);
    if (!this.shards.has(shard)) {
      mkdirSync(join(this.root, shard), { recursive: true, mode: 0o755 });
      this.shards.add(shard);
    }
    // Created with O_EXCL, which answers EEXIST for a blob already here: no look-up first (one
    // system call per file fewer on an upload of thousands).
    try {
      writeNew(dest, bytes);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return this.keepExisting(sha, dest, bytes);
      rmSync(dest, { force: true });
      throw e;
    }
    this.verifiedAt.set(sha, Date.now());
    return true;
  }

  /** keepExisting: putSmall found the blob present; an unverified one that differs from `bytes` is replaced. */
  private keepExisting(sha: string, dest: string, bytes: Uint8Array): boolean {
    if (this.verifiedAt.has(sha) || Buffer.from(bytes).equals(readFileSync(dest))) {
      this.verifiedAt.set(sha, Date.now());
      return false;
    }
    const tmp = this.tmpPath();
    writeNew(tmp, bytes);
    renameSync(tmp, dest);
    this.verifiedAt.set(sha, Date.now());
    return false;
  }

  /**
   * verify checks the bytes of the present blobs among `digests` that were not checked within the
   * re-verify period, before a new deployment links them: a blob whose bytes no longer hash to its
   * name (a flipped bit, a file changed behind the agent's back) is moved to the quarantine, so the
   * store lacks it and it is uploaded or fetched from a peer again. Deployments already linking the
   * corrupt file keep it (hard links); new ones never do. Answers the quarantined digests.
   */
  async verify(digests: Iterable<string>): Promise<string[]> {
    const bad: string[] = [];
    const due = Date.now() - this.reverifyMs;
    for (const sha of new Set(digests)) {
      if ((this.verifiedAt.get(sha) ?? -Infinity) > due || !this.has(sha)) continue;
      const hasher = new Bun.CryptoHasher("sha256");
      try {
        for await (const chunk of Bun.file(this.path(sha)).stream()) hasher.update(chunk);
      } catch {
        continue; // removed meanwhile: it is missing now, and will be asked for
      }
      if (hasher.digest("hex") === sha) this.verifiedAt.set(sha, Date.now());
      else {
        this.quarantine(sha);
        bad.push(sha);
      }
    }
    return bad;
  }

  /** marks: quarantined digests, each with its quarantine file's name (null until first asked). */
  private marks: Map<string, string> | null = null;

  /**
   * quarantined answers the digests of blobs found corrupt whose bad copy some folder tree may still
   * link (its quarantine file is kept until nothing links it), each with a mark that differs between
   * quarantines. Folder trees hash it in (trees.ts), so none linking a bad copy is reused.
   */
  quarantined(): ReadonlyMap<string, string> {
    if (!this.marks) {
      this.marks = new Map();
      if (existsSync(this.quarantineDir))
        for (const f of readdirSync(this.quarantineDir).sort()) this.marks.set(f.slice(0, 64), (this.marks.has(f.slice(0, 64)) ? `${this.marks.get(f.slice(0, 64))},` : "") + f);
    }
    return this.marks;
  }

  /** quarantine moves a corrupt blob out of the store (its `.gz`, `.br` and markers go; they came from it). */
  private quarantine(sha: string) {
    mkdirSync(this.quarantineDir, { recursive: true, mode: 0o700 });
    const p = this.path(sha);
    const name = `${sha}-${Date.now()}`;
    try {
      renameSync(p, join(this.quarantineDir, name));
    } catch {
      rmSync(p, { force: true });
    }
    this.marks = null;
    for (const f of SIBLINGS) rmSync(`${p}${f}`, { force: true });
    this.verifiedAt.delete(sha);
  }

  /**
   * receiving: blobs that upload requests in progress wrote or found present and verified, by count.
   * Blobs are shared between accounts: one request's bad entry must not take away a blob another
   * request (of any account) has just proved it holds (see discard).
   */
  private receiving = new Map<string, number>();

  /** receive marks `sha` as in use by an upload request until `released`. */
  receive(sha: string) {
    this.receiving.set(sha, (this.receiving.get(sha) ?? 0) + 1);
  }

  released(digests: Iterable<string>) {
    for (const d of digests) {
      const n = (this.receiving.get(d) ?? 1) - 1;
      if (n > 0) this.receiving.set(d, n);
      else this.receiving.delete(d);
    }
  }

  /**
   * discard removes a blob `owner`'s work added and no longer wants (and its shard folder when that is
   * left empty), unless anything else has a claim on it: a deployment links it, another account
   * holds it, or an upload request in progress uses it. Without those checks, a tenant who uploaded a
   * public file (a library's known bytes) and then a bad entry removed it under another tenant's
   * upload of the same file, which then failed ("did not receive every file").
   */
  discard(sha: string, owner: string) {
    if (this.receiving.has(sha)) return;
    const p = this.path(sha);
    if (!existsSync(p) || statSync(p).nlink > 1 || this.owners.ownedByOthers(owner, sha)) return;
    for (const f of ["", ...SIBLINGS]) rmSync(`${p}${f}`, { force: true });
    this.owners.forget([sha]);
    try {
      rmdirSync(join(this.root, sha.slice(0, 2)));
      // Gone: the next blob of this shard makes the folder again (putSmall and adopt trust the cache).
      this.shards.delete(sha.slice(0, 2));
    } catch {
      /* other blobs share the shard */
    }
  }

  /** gzReady answers `<blob>.gz` if it is made already, else null (it never waits: see gzLater). */
  gzReady(sha: string): string | null {
    const gz = `${this.path(sha)}.gz`;
    return existsSync(gz) ? gz : null;
  }

  /**
   * gzLater makes `<blob>.gz` once per blob and answers its path (null when compressing does not pay
   * off, which a `.nogz` marker remembers, or when it failed: a full disk, the blob collected). It
   * waits for a moment without uploads or stagings first (see Siblings: forms are made after a
   * deployment is live, never on a deploy's way). Blobs up to SYNC_GZIP_MAX are compressed on this
   * thread (Bun's one-shot gzip takes microseconds there), larger ones on the low-priority worker.
   */
  async gzLater(sha: string): Promise<string | null> {
    const base = this.path(sha);
    if (existsSync(`${base}.gz`)) return `${base}.gz`;
    if (existsSync(`${base}.nogz`)) return null;
    let job = this.compressing.get(sha);
    if (!job) {
      job = (async () => {
        await this.quiet();
        if (existsSync(`${base}.gz`) || existsSync(`${base}.nogz`) || !existsSync(base)) return;
        if (statSync(base).size <= SYNC_GZIP_MAX) {
          const raw = readFileSync(base);
          this.keepGz(base, raw.length, Bun.gzipSync(raw as Uint8Array<ArrayBuffer>, { level: 6 }));
        } else {
          const raw = await Bun.file(base).bytes();
          const size = raw.length; // (compress hands `raw` to the worker)
          this.keepGz(base, size, await this.worker.compress(raw, "gzip", 6));
        }
      })().finally(() => this.compressing.delete(sha));
      this.compressing.set(sha, job);
    }
    await job.catch(() => {});
    return existsSync(`${base}.gz`) ? `${base}.gz` : null;
  }

  /** busy runs an upload's or a staging's work, during which (and a moment after) brotli waits. */
  async busy<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busyCount === 0 && Date.now() - this.lastBusy >= QUIET_MS) this.busySince = Date.now();
    this.busyCount++;
    try {
      return await fn();
    } finally {
      this.busyCount--;
      this.lastBusy = Date.now();
    }
  }

  /**
   * quiet waits until no upload or staging is under way and none was for a moment: compressed forms
   * take only the time deploys leave, so they never slow one down. A node busy without a pause for
   * starveMs makes them anyway, one form per STARVED_PAUSE_MS at most (large ones on the low-priority
   * worker): without that, a node that uploads all the time would never serve a `.br` at all.
   */
  private async quiet() {
    while (this.busyCount > 0 || Date.now() - this.lastBusy < QUIET_MS) {
      if (Date.now() - this.busySince > this.starveMs) {
        await Bun.sleep(STARVED_PAUSE_MS);
        return;
      }
      await Bun.sleep(100);
    }
  }

  /** brPath answers `<blob>.br` if it is made already, else null (it never waits: see brotliLater). */
  brPath(sha: string): string | null {
    return existsSync(`${this.path(sha)}.br`) ? `${this.path(sha)}.br` : null;
  }

  /**
   * brotliLater makes `<blob>.br` in the background and answers its path once made (null when it
   * does not pay off, brotli is off, or it failed). Brotli at quality 11 is some 30x slower than
   * gzip: jobs run one at a time on the worker thread at a low CPU priority (CompressWorker), so
   * they take mostly CPU that deploys and nginx leave, and each waits for a moment without uploads;
   * Siblings links each `.br` into the trees once it exists. The bytes are read again from the
   * store (page cache), so queued jobs hold no memory.
   */
  brotliLater(sha: string): Promise<string | null> {
    const base = this.path(sha);
    const answer = () => this.brPath(sha);
    if (!this.brotli) return Promise.resolve(null);
    if (existsSync(`${base}.nobr`)) return Promise.resolve(null);
    if (existsSync(`${base}.br`)) return Promise.resolve(answer());
    let job = this.brotliJobs.get(sha);
    if (!job) {
      job = this.brotliQueue.then(async () => {
        await this.quiet();
        if (existsSync(`${base}.br`) || existsSync(`${base}.nobr`) || !existsSync(base)) return;
        const raw = await Bun.file(base).bytes();
        const size = raw.length; // (compress hands `raw` to the worker)
        const packed = await this.worker.compress(raw, "brotli", brotliQuality(size));
        if (packed.length >= size * 0.9) {
          writeFileSync(`${base}.nobr`, "");
          return;
        }
        const tmp = this.tmpPath();
        try {
          writeFileSync(tmp, packed, { mode: 0o644 });
          renameSync(tmp, `${base}.br`);
        } catch (e) {
          rmSync(tmp, { force: true });
          throw e;
        }
      });
      const settled = job.catch(() => {}).finally(() => this.brotliJobs.delete(sha));
      this.brotliQueue = settled;
      this.brotliJobs.set(sha, job);
    }
    // A sibling that could not be made (a full disk, the blob collected meanwhile) only costs gzip.
    return job.then(answer, () => null);
  }

  /** keepGz stores a compressed sibling, or the `.nogz` marker when it saves under 10%. */
  private keepGz(base: string, rawLength: number, packed: Uint8Array) {
    if (packed.length >= rawLength * 0.9) {
      writeFileSync(`${base}.nogz`, "");
      return;
    }
    const tmp = this.tmpPath();
    try {
      writeNew(tmp, packed);
      renameSync(tmp, `${base}.gz`);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  /**
   * collect removes blobs that no deployment tree links to any more. A blob linked from a tree has
   * st_nlink >= 2 (the store's name plus the tree's), so nlink == 1 means unreferenced. Blobs in
   * `keep` (those of uploads still pending) and pinned ones stay. Removed blobs lose their owners.
   */
  collect(keep: ReadonlySet<string> = new Set()): number {
    let removed = 0;
    const gone: string[] = [];
    for (const dir of readdirSync(this.root)) {
      const d = join(this.root, dir);
      for (const f of readdirSync(d)) {
        if (f.endsWith(".nogz") || f.endsWith(".nobr")) continue;
        const sibling = f.endsWith(".gz") || f.endsWith(".br");
        const sha = sibling ? f.slice(0, -3) : f;
        if (keep.has(sha) || this.pins.has(sha)) continue;
        const p = join(d, f);
        let nlink: number;
        try {
          nlink = statSync(p).nlink;
        } catch {
          continue; // removed meanwhile (its base blob went first)
        }
        if (nlink === 1) {
          rmSync(p, { force: true });
          if (!sibling) {
            for (const m of [".nogz", ".nobr"]) rmSync(`${p}${m}`, { force: true });
            gone.push(sha);
          }
          removed++;
        }
      }
    }
    if (gone.length) this.owners.forget(gone);
    for (const g of gone) this.verifiedAt.delete(g);
    // Quarantined copies go once no deployment tree links them.
    if (existsSync(this.quarantineDir))
      for (const f of readdirSync(this.quarantineDir)) {
        const p = join(this.quarantineDir, f);
        try {
          if (statSync(p).nlink === 1) {
            rmSync(p, { force: true });
            this.marks = null;
          }
        } catch {
          /* removed meanwhile */
        }
      }
    return removed;
  }

  /** clearTmp removes leftovers of uploads interrupted by a crash. */
  clearTmp() {
    for (const f of readdirSync(this.tmpDir)) rmSync(join(this.tmpDir, f), { force: true, recursive: true });
  }
}


/** yieldToLoop lets timers and other requests run between slices of long work. */
export function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
