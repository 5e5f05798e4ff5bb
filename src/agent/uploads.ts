import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { open } from "node:fs/promises";
import type { Manifest, StatusReport } from "../protocol/deployment";
import type { UploadFileAnswer, UploadInit, UploadInitAnswer } from "../protocol/upload";
import { SproutError, badRequest, conflict, forbidden, tooLarge, tooMany, unavailable } from "../shared/errors";
import { hasPlainPassword } from "../shared/htpasswd";
import { hasPlainTomlPassword } from "../shared/netlify-toml";
import { MAX_RULES_FILE } from "./nginx/rules/headers";
import { signUploadToken, verifyGrant, verifyUploadToken } from "../shared/grant";
import { byPath, checkManifest, manifestText, parseManifestText, sha256Hex, sortManifest, type ManifestLimits } from "../shared/manifest";
import { sitePathProblem } from "../shared/paths";
import { yieldToLoop, type BlobStore } from "./blobs";
import { DeploymentLock, InitLimiter } from "./deployment-lock";
import type { Deployments } from "./deployments";
import { diskFullAs, isDiskFull, outOfDisk } from "./disk";
import type { StateFile } from "./state";
import type { SiteConfigurator } from "./site-config";
import { TarReader, type TarHeader } from "./tar-reader";
import { publicMessage } from "./public-error";

/** SMALL_FILE: entries up to this size are gathered in memory rather than streamed to disk. */
const SMALL_FILE = 4 * 1024 * 1024;

/**
 * MAX_STREAMS_PER_ACCOUNT: file streams one account may have in progress on this node at once. Each
 * holds up to SMALL_FILE of memory and a temporary file for as long as its client keeps sending, a
 * byte at a time if it likes: without a bound, one tenant's deployments (60 an hour by default) could
 * pile such streams up until the node's memory or disk gave out for every tenant (measured: 40
 * streams stopped 1 byte short of a 4 MB file held 169 MB).
 */
export const MAX_STREAMS_PER_ACCOUNT = 8;

/**
 * PENDING_EXT names an upload's record, <data>/uploads/<deployment>.upload: one JSON line (the record
 * without its manifest), then the manifest's canonical text (manifestText), written as init hashed it
 * rather than serialized again. LEGACY_EXT: the all-JSON records of earlier versions, still read.
 */
const PENDING_EXT = ".upload";
const LEGACY_EXT = ".json";

/**
 * readPending reads a record, or null when there is none or it is not whole: its manifest text must
 * hash to the digest it names (a record cut short can never stage part of a deployment).
 */
function readPending(path: string): PendingUpload | null {
  try {
    const text = readFileSync(path, "utf8");
    const nl = text.indexOf("\n");
    if (nl === -1) return null;
    const head = JSON.parse(text.slice(0, nl)) as Omit<PendingUpload, "manifest">;
    const manifest = text.slice(nl + 1);
    if (sha256Hex(manifest) !== head.manifest_digest) return null;
    return { ...head, manifest: parseManifestText(manifest) };
  } catch {
    return null;
  }
}

function readLegacyPending(path: string): PendingUpload | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as PendingUpload;
  } catch {
    return null;
  }
}

/**
 * PendingUpload is an upload's record (see PENDING_EXT): the manifest a grant allowed, until staged.
 * It expires after the upload TTL (its file's age): an abandoned upload then frees what it kept.
 */
interface PendingUpload {
  site: string;
  /** owner: the account whose grant started the upload; blobs it sends become that account's. */
  owner: string;
  manifest: Manifest;
  manifest_digest: string;
  production: boolean;
  failed?: string;
  /** missing: the digests init asked for; the upload is complete once the account holds them all. */
  missing?: string[];
}

/**
 * Uploads runs the agent's half of the deploy protocol: `init` checks the master's grant and answers
 * the digests this node lacks; `receive` takes the missing files as one tar stream, verifies path,
 * size and digest of each before keeping it, and stages the deployment once nothing is missing.
 */
export class Uploads {
  private dir: string;
  /** lock: one init, upload or staging at a time per deployment. */
  readonly lock = new DeploymentLock();
  private inits = new InitLimiter();
  /** streams: file streams in progress, by account (see MAX_STREAMS_PER_ACCOUNT). */
  private streams = new Map<string, number>();

  constructor(
    dataDir: string,
    private state: StateFile,
    private blobs: BlobStore,
    private deployments: Deployments,
    private limits: ManifestLimits,
    private report: (r: StatusReport) => void,
    private siteConfig: SiteConfigurator,
    /** node: this node's name, as errors that users see name it ("node X is out of disk"). */
    private node: string,
  ) {
    this.dir = join(dataDir, "uploads");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /**
   * init checks the master's grant and answers what the grant's account must send: digests this node
   * lacks, or holds only for other accounts. Its work is linear in the manifest (bounded by the
   * manifest limits) and yields to the event loop as it goes; one grant may start a few inits a
   * minute, one at a time, and only while its deployment is still open on this node.
   */
  async init(body: UploadInit): Promise<UploadInitAnswer> {
    const { agentId, grantPublicKey } = this.state.state;
    if (!agentId || !grantPublicKey)
      throw unavailable("not_registered", "This agent has not reached its master yet, so it cannot check upload grants.", "Check the agent's --master and --token.");
    const grant = await verifyGrant(grantPublicKey, body.grant);
    if (grant.agent_id !== agentId) throw forbidden("This upload grant is for another node.");
    if (grant.deployment_id !== body.deployment_id) throw forbidden("This upload grant is for another deployment.");
    this.assertOpen(grant.site, body.deployment_id);
    if (!this.inits.take(body.deployment_id))
      throw tooMany(`Deployment ${body.deployment_id} started too many uploads in a short time.`, "Wait a minute, or run the deploy again: it creates a new deployment.");
    return this.lock.tryRun(body.deployment_id, async () => {
      this.assertOpen(grant.site, body.deployment_id);
      checkManifest(body.manifest, this.limits);
      await yieldToLoop();
      // The canonical text is hashed here and kept as the upload's record (writePending).
      const manifest = sortManifest(body.manifest);
      const text = manifestText(manifest);
      if (sha256Hex(text) !== grant.manifest_digest)
        throw new SproutError(403, "manifest_mismatch", "The manifest differs from the one the master accepted for this deployment.");
      await yieldToLoop();
      const pending: PendingUpload = { site: grant.site, owner: grant.owner, manifest, manifest_digest: grant.manifest_digest, production: grant.production };
      // Folders whose tree this node holds for this account need nothing: only the others' files
      // are looked up, so a redeploy's init costs what changed (see trees.ts).
      const lookUp = async () => {
        // The manifest kept for the upload: its staging reuses this plan (Deployments.plan).
        const { plan, build } = this.deployments.plan(grant.site, manifest, grant.owner);
        return this.blobs.missingFor(grant.owner, [...build.flatMap((f) => f.files), ...plan.rules].map((e) => e.sha256));
      };
      let missing = await lookUp();
      // Blobs this deployment reuses are checked (when due): a corrupt one is quarantined, which
      // changes the hash of every folder holding it, so those are built anew and it is asked for.
      const all = body.manifest.map((e) => e.sha256);
      const absent = new Set(missing);
      if ((await this.blobs.verify(absent.size ? all.filter((d) => !absent.has(d)) : all)).length) missing = await lookUp();
      pending.missing = missing;
      this.writePending(body.deployment_id, pending, text);
      const lacking = new Set(missing);
      let need = 0;
      for (const e of body.manifest) if (lacking.has(e.sha256)) need++;
      this.report({
        deployment_id: body.deployment_id,
        phase: "uploading",
        message: `Node has ${body.manifest.length - need} of ${body.manifest.length} files; ${missing.length} to upload.`,
        files_uploaded: 0,
        bytes_uploaded: 0,
      });
      const upload_token = await signUploadToken(this.state.uploadSecret(), { site: grant.site, deployment_id: body.deployment_id, manifest_digest: grant.manifest_digest, owner: grant.owner });
      return { upload_token, missing };
    });
  }

  /**
   * receive consumes the tar stream of POST /api/upload/file. A second stream to the same deployment
   * while one runs is refused (409), so two uploads can never stage one deployment at once, and an
   * account's streams beyond MAX_STREAMS_PER_ACCOUNT are refused (429).
   */
  async receive(token: string | null, deploymentId: string | null, body: ReadableStream<Uint8Array> | null): Promise<UploadFileAnswer> {
    if (!token) throw new SproutError(401, "unauthorized", "X-Upload-Token header missing.", "Call POST /api/upload/init first.");
    const claims = await verifyUploadToken(this.state.uploadSecret(), token);
    if (!deploymentId || claims.deployment_id !== deploymentId) throw forbidden("This upload token is for another deployment.");
    const open = this.streams.get(claims.owner) ?? 0;
    if (open >= MAX_STREAMS_PER_ACCOUNT)
      throw new SproutError(429, "uploads_busy", `This account has ${open} uploads in progress on this node, the most it may have at once.`, "Wait for one of them to finish, then deploy again (the CLI waits by itself).");
    this.streams.set(claims.owner, open + 1);
    try {
      return await this.receiveLocked(claims, deploymentId, body);
    } finally {
      const left = (this.streams.get(claims.owner) ?? 1) - 1;
      if (left > 0) this.streams.set(claims.owner, left);
      else this.streams.delete(claims.owner);
    }
  }

  /** receiveLocked takes the stream under the deployment's lock (409 while another stream to it runs). */
  private receiveLocked(claims: Awaited<ReturnType<typeof verifyUploadToken>>, deploymentId: string, body: ReadableStream<Uint8Array> | null): Promise<UploadFileAnswer> {
    return this.lock.tryRun(deploymentId, async () => {
      this.assertOpen(claims.site, deploymentId);
      const pending = this.pending(deploymentId);
      if (!pending || pending.manifest_digest !== claims.manifest_digest || pending.owner !== claims.owner)
        throw conflict("no_upload", "No upload was started for this deployment here.", "Call POST /api/upload/init first.");
      let got: { files: number; bytes: number; proved: ReadonlySet<string> } = { files: 0, bytes: 0, proved: new Set() };
      try {
        if (body) got = await this.blobs.busy(() => this.extract(body, pending.manifest, pending.owner));
      } catch (e) {
        // A full disk ends this deployment here (a rerun creates a new one once there is room):
        // the deploy log says why, and the upload's record no longer keeps any blob.
        if (e instanceof SproutError && e.code === "out_of_disk") {
          this.markFailed(deploymentId, e.message);
          this.report({ deployment_id: deploymentId, phase: "failed", message: e.message });
        }
        throw e;
      }
      const { files, bytes, proved } = got;
      // What this request proved is held (verified, adopted, owned) and kept for the pending upload:
      // only the rest is looked up, not every file of the upload again.
      const still = await this.blobs.missingFor(pending.owner, (pending.missing ?? pending.manifest.map((e) => e.sha256)).filter((d) => !proved.has(d)));
      this.report({ deployment_id: deploymentId, phase: "uploaded", message: `Received ${files} files (${bytes} bytes).`, files_uploaded: files, bytes_uploaded: bytes });
      if (still.length) return { files_received: files, bytes_received: bytes, staged: false };
      await this.stageLocked(pending.site, deploymentId, pending.manifest, pending.production, pending.owner, { files, bytes }, proved);
      return { files_received: files, bytes_received: bytes, staged: true };
    });
  }

  /**
   * stage builds the deployment's tree and reports it (replication's way in); it waits for any
   * upload or staging of the same deployment on this node to finish first.
   */
  stage(site: string, deploymentId: string, manifest: Manifest, production: boolean, owner: string): Promise<void> {
    return this.lock.run(deploymentId, () => this.stageLocked(site, deploymentId, manifest, production, owner));
  }

  /** stageLocked stages under the deployment's lock; every blob must be held by the deployment's account. */
  private stageLocked(site: string, deploymentId: string, manifest: Manifest, production: boolean, owner: string, uploaded?: { files: number; bytes: number }, proved?: ReadonlySet<string>) {
    // Brotli forms wait while a deployment is staged (see BlobStore.quiet).
    return this.blobs.busy(() => this.stageLockedBusy(site, deploymentId, manifest, production, owner, uploaded, proved));
  }

  /** `proved`: blobs the upload just verified and adopted for `owner` (staging need not ask about them again). */
  private async stageLockedBusy(site: string, deploymentId: string, manifest: Manifest, production: boolean, owner: string, uploaded?: { files: number; bytes: number }, proved?: ReadonlySet<string>) {
    const t0 = performance.now();
    try {
      const r = await this.deployments.stage(site, deploymentId, manifest, {
        owner,
        proved,
        // Only blobs linked anew are asked about: a reused folder tree was built for this same account.
        usable: async (digests) => {
          const notOwned = await this.blobs.missingFor(owner, digests);
          if (notOwned.length)
            throw conflict("blobs_not_uploaded", `${notOwned.length} file(s) of deployment ${deploymentId} were not uploaded by this site's account to this node.`, "Run the deploy again: it uploads them.");
        },
        beforePublish: () => this.configure(site, deploymentId),
      });
      this.removePending(deploymentId);
      this.report({
        deployment_id: deploymentId,
        phase: "staged",
        message: `Staged ${r.files} files in ${Math.round(performance.now() - t0)} ms: ${r.linked} linked (${r.gz} precompressed${r.br ? `, ${r.br} with brotli` : ""}${r.later ? `, ${r.later} to precompress once live` : ""}), ${r.reused} folder${r.reused === 1 ? "" : "s"} reused.`,
        ...(uploaded ? { files_uploaded: uploaded.files, bytes_uploaded: uploaded.bytes } : {}),
      });
    } catch (caught) {
      const e = diskFullAs(this.node, caught);
      // A system error (a blob gone meanwhile...) is told without the node's paths.
      const msg = publicMessage(e);
      this.markFailed(deploymentId, msg);
      this.report({ deployment_id: deploymentId, phase: "failed", message: `Staging failed: ${msg}` });
      throw e;
    }
  }

  /**
   * configure compiles the deployment's `_redirects` / `_headers` into the site's nginx include and
   * logs each skipped line. It runs before the deployment's tree takes its name, so its preview host
   * is never served without its own rules; production moves at activation (tasks.ts). If nginx
   * rejects the result, the deployment is removed again (the site keeps serving what it served).
   */
  private async configure(site: string, deploymentId: string) {
    // Checked before nginx sees anything: a preview's server is installed by apply() below.
    const fatal = this.siteConfig.problems(site, deploymentId);
    if (fatal.length) {
      this.deployments.discard(site, deploymentId);
      const lines = fatal.map((w) => `${w.file} line ${w.line}: ${w.message}`).join("; ");
      throw new SproutError(422, "rules_unsafe", `This deployment's access rules cannot be applied as written, so it was not published: ${lines}.`);
    }
    let warnings;
    try {
      warnings = await this.siteConfig.serial(site, () => this.siteConfig.apply(site, { extra: deploymentId }));
    } catch (e) {
      this.deployments.discard(site, deploymentId);
      throw new SproutError(422, "rules_rejected", `The site's _redirects or _headers produce configuration that nginx rejects: ${(e as Error).message}`);
    }
    // The first lines tell the user what to fix; thousands would only flood the deploy log.
    const all = warnings.get(deploymentId) ?? [];
    for (const w of all.slice(0, 50))
      this.report({ deployment_id: deploymentId, phase: "log", level: "warn", message: `${w.file} line ${w.line}${w.note ? "" : " skipped"}: ${w.message}` });
    if (all.length > 50) this.report({ deployment_id: deploymentId, phase: "log", level: "warn", message: `... and ${all.length - 50} more lines of the rules files were skipped.` });
  }

  /**
   * extract checks and stores each tar entry. Blobs verified by this request are adopted at once, so
   * an interrupted upload keeps them and a rerun sends only the rest; but if an entry turns out to be
   * bad, the blobs this request added are removed again: bad input leaves nothing behind.
   */
  private async extract(body: ReadableStream<Uint8Array>, manifest: Manifest, owner: string): Promise<{ files: number; bytes: number; proved: ReadonlySet<string> }> {
    const entries = byPath(manifest);
    const added: string[] = [];
    /** proved: digests whose bytes this request sent in full and that verified (the account now holds them). */
    const proved: string[] = [];
    let files = 0;
    let bytes = 0;
    const tar = new TarReader(body);
    try {
      for (let h = await tar.next(); h; h = await tar.next()) {
        const name = h.name.replace(/^\.\//, "");
        if (h.type === "directory") continue;
        const problem = entryProblem(h, name);
        if (problem) throw badRequest("bad_archive", `Refused archive entry ${JSON.stringify(name.slice(0, 200))}: ${problem}.`);
        const want = entries.get(name);
        if (!want) throw badRequest("not_in_manifest", `Archive entry ${JSON.stringify(name.slice(0, 200))} is not in the deployment's manifest.`);
        if (h.size !== want.size) throw badRequest("size_mismatch", `${name}: the archive holds ${h.size} bytes, the manifest says ${want.size}.`);
        bytes += h.size;
        if (bytes > this.limits.maxTotalBytes) throw tooLarge(`The upload is over the limit of ${this.limits.maxTotalBytes} bytes.`);
        if (name === "_headers" && want.size > SMALL_FILE) throw tooLarge(`_headers is ${want.size} bytes; the limit is ${SMALL_FILE}.`);
        // Read whole or not at all (a cut TOML file means nothing), and checked for plain passwords before it is kept.
        if (name === "netlify.toml" && want.size > MAX_RULES_FILE) throw tooLarge(`netlify.toml is ${want.size} bytes; the limit is ${MAX_RULES_FILE}.`);
        const isNew = await this.writeVerified(tar, name, want.size, want.sha256);
        if (isNew) added.push(want.sha256);
        proved.push(want.sha256);
        files++;
      }
    } catch (e) {
      tar.cancel();
      if (e instanceof SproutError) {
        // Bad input: undo what this request added, unless another upload or account uses it meanwhile.
        this.blobs.released(proved);
        for (const sha of added) this.blobs.discard(sha, owner);
        throw e;
      }
      // A dropped connection or a truncated stream: keep the files that verified in full, so a rerun
      // uploads only the rest. (Each is content-addressed and checked; none can be wrong.)
      this.blobs.owners.add(owner, proved);
      this.blobs.released(proved);
      throw badRequest("bad_archive", `The upload is not a complete tar stream: ${publicMessage(e)}.`);
    }
    this.blobs.owners.add(owner, proved);
    this.blobs.released(proved);
    return { files, bytes, proved: new Set(proved) };
  }

  /**
   * writeVerified takes one entry into a temporary file, checks its digest and adopts it. Small
   * files are taken whole from the stream, checked, and written with one call (per-file write
   * streams cost more than the bytes on sites of many small files). Compressed forms are made after
   * the deployment is live (Siblings), not here. The blob is marked as received (BlobStore.receive)
   * in the same step that stores or finds it, so no other request's bad entry removes it in between;
   * extract releases it when the request ends.
   */
  private async writeVerified(tar: TarReader, name: string, size: number, sha256: string): Promise<boolean> {
    const tmp = this.blobs.tmpPath();
    const hasher = new Bun.CryptoHasher("sha256");
    try {
      if (size <= SMALL_FILE) {
        const body = await tar.readAll();
        hasher.update(body);
        if (hasher.digest("hex") !== sha256) throw badRequest("digest_mismatch", `${name}: its bytes do not match the manifest's SHA-256.`);
        if (name === "_headers" && hasPlainPassword(new TextDecoder().decode(body))) throw plainPassword(name);
        if (name === "netlify.toml" && hasPlainTomlPassword(new TextDecoder().decode(body))) throw plainPassword(name);
        const isNew = this.blobs.putSmall(sha256, body);
        this.blobs.receive(sha256);
        return isNew;
      } else {
        // Written through a file handle: each write's failure (ENOSPC...) rejects here, where a
        // write stream's would be an 'error' event that, unheard, ends the process.
        const out = await open(tmp, "w", 0o644);
        try {
          for await (const chunk of tar.chunks()) {
            hasher.update(chunk);
            await out.write(chunk);
          }
        } finally {
          await out.close();
        }
        if (hasher.digest("hex") !== sha256) throw badRequest("digest_mismatch", `${name}: its bytes do not match the manifest's SHA-256.`);
      }
      const isNew = this.blobs.adopt(tmp, sha256);
      this.blobs.receive(sha256);
      return isNew;
    } catch (e) {
      rmSync(tmp, { force: true });
      if (isDiskFull(e)) throw outOfDisk(this.node);
      throw e;
    }
  }

  /** assertOpen refuses grants and tokens of a deployment that already finished on this node. */
  private assertOpen(site: string, deploymentId: string) {
    const p = this.pending(deploymentId);
    if (this.deployments.isStaged(site, deploymentId) || p?.failed)
      throw conflict("deployment_finished", `Deployment ${deploymentId} has finished on this node; its grant cannot be used again.`, "Run the deploy again: it uploads only what is missing.");
  }

  private markFailed(deploymentId: string, reason: string) {
    const p = this.pending(deploymentId);
    if (!p) return;
    try {
      this.writePending(deploymentId, { ...p, failed: reason });
    } catch {
      // No room even for this record (a full disk): without it the upload cannot resume either.
      this.removePending(deploymentId);
    }
  }

  /**
   * last: the upload record written or read last, so init, the upload and its staging read the
   * file once rather than parse a manifest of 10,000 files three times. One record only: memory
   * stays bounded however many uploads are pending. The file stays the truth (resume after a restart).
   */
  private last: { id: string; p: PendingUpload } | null = null;

  private pending(deploymentId: string): PendingUpload | null {
    if (this.last?.id === deploymentId) return this.last.p;
    const read = readPending(this.pendingPath(deploymentId)) ?? readLegacyPending(this.legacyPath(deploymentId));
    if (read) this.last = { id: deploymentId, p: read };
    return read; // null: none, or cut short by a crash: the upload starts again with init
  }

  /**
   * writePending keeps an upload's record (`text`: its manifest's manifestText, when the caller has
   * it). A record a crash cut short is not read back (see readPending).
   */
  private writePending(deploymentId: string, p: PendingUpload, text = manifestText(p.manifest)) {
    if (this.last?.id === deploymentId) this.last = null;
    const { manifest: _, ...head } = p;
    writeFileSync(this.pendingPath(deploymentId), `${JSON.stringify(head)}\n${text}`, { mode: 0o600 });
    rmSync(this.legacyPath(deploymentId), { force: true });
    this.last = { id: deploymentId, p };
  }

  private removePending(deploymentId: string) {
    if (this.last?.id === deploymentId) this.last = null;
    rmSync(this.pendingPath(deploymentId), { force: true });
    rmSync(this.legacyPath(deploymentId), { force: true });
  }

  /** pendingIds lists the deployments with an upload record here (of this version or an earlier one). */
  private pendingIds(): string[] {
    const ids = new Set<string>();
    for (const f of readdirSync(this.dir)) {
      if (f.endsWith(PENDING_EXT)) ids.add(f.slice(0, -PENDING_EXT.length));
      else if (f.endsWith(LEGACY_EXT)) ids.add(f.slice(0, -LEGACY_EXT.length));
    }
    return [...ids];
  }

  /**
   * keepDigests answers the blobs of uploads still pending (not expired, not failed): collection leaves them,
   * so an upload in progress or resumed later keeps what it sent.
   */
  keepDigests(): Set<string> {
    const keep = new Set<string>();
    for (const id of this.pendingIds()) {
      const p = this.pending(id);
      // A failed upload (say, out of disk) will not resume: what it sent is no longer kept for it.
      if (p && !p.failed) for (const e of p.manifest) keep.add(e.sha256);
    }
    return keep;
  }

  /**
   * expire removes upload records older than `ttlMs` (abandoned uploads), and those of `site` when
   * given (a deleted site). Answers how many it removed; the caller collects the blobs they kept.
   */
  expire(ttlMs: number, site?: string, now = Date.now()): number {
    let removed = 0;
    for (const id of this.pendingIds()) {
      if (this.lock.busy(id)) continue;
      let old = false;
      try {
        old = now - statSync(existsSync(this.pendingPath(id)) ? this.pendingPath(id) : this.legacyPath(id)).mtimeMs > ttlMs;
      } catch {
        continue;
      }
      if (old || (site !== undefined && this.pending(id)?.site === site)) {
        this.removePending(id);
        removed++;
      }
    }
    return removed;
  }

  private pendingPath(deploymentId: string) {
    return join(this.dir, `${deploymentId}${PENDING_EXT}`);
  }

  private legacyPath(deploymentId: string) {
    return join(this.dir, `${deploymentId}${LEGACY_EXT}`);
  }
}

/** plainPassword refuses a `_headers` or netlify.toml with a plain-text Basic-Auth password: the node never keeps one. */
function plainPassword(file: string): SproutError {
  return new SproutError(
    422,
    "plain_password",
    `${file} holds a Basic-Auth password in plain text; nodes never store plain passwords.`,
    "Deploy with `sprout deploy`, which hashes them (SHA-512 crypt) before upload.",
  );
}

/** entryProblem refuses everything but regular files with a safe relative path. */
function entryProblem(h: TarHeader, name: string): string | null {
  if (h.type !== "file" && h.type !== "contiguous-file") {
    const kinds: Record<string, string> = { symlink: "a symbolic link", link: "a hard link", "character-device": "a device", "block-device": "a device", fifo: "a FIFO" };
    const kind = kinds[String(h.type)] ?? `of type ${h.type}`;
    return `it is ${kind}; only regular files are accepted`;
  }
  if (h.name.startsWith("/")) return "it is absolute";
  return sitePathProblem(name);
}
