import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { extract as tarExtract, type Header as Headers } from "tar-stream";
import type { Manifest, StatusReport } from "../protocol/deployment";
import type { UploadFileAnswer, UploadInit, UploadInitAnswer } from "../protocol/upload";
import { SproutError, badRequest, conflict, forbidden, tooLarge, unavailable } from "../shared/errors";
import { signUploadToken, verifyGrant, verifyUploadToken } from "../shared/grant";
import { byPath, checkManifest, manifestDigest, type ManifestLimits } from "../shared/manifest";
import { sitePathProblem } from "../shared/paths";
import type { BlobStore } from "./blobs";
import type { Deployments } from "./deployments";
import { isCompressible } from "./compressible";
import type { StateFile } from "./state";
import type { SiteConfigurator } from "./site-config";

/** SMALL_FILE: entries up to this size are gathered in memory rather than streamed to disk. */
const SMALL_FILE = 4 * 1024 * 1024;

/** PendingUpload is <data>/uploads/<deployment>.json: the manifest a grant allowed, until staged. */
interface PendingUpload {
  site: string;
  manifest: Manifest;
  manifest_digest: string;
  production: boolean;
  failed?: string;
}

/**
 * Uploads runs the agent's half of the deploy protocol: `init` checks the master's grant and answers
 * the digests this node lacks; `receive` takes the missing files as one tar stream, verifies path,
 * size and digest of each before keeping it, and stages the deployment once nothing is missing.
 */
export class Uploads {
  private dir: string;

  constructor(
    dataDir: string,
    private state: StateFile,
    private blobs: BlobStore,
    private deployments: Deployments,
    private limits: ManifestLimits,
    private report: (r: StatusReport) => void,
    private siteConfig: SiteConfigurator,
  ) {
    this.dir = join(dataDir, "uploads");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  async init(body: UploadInit): Promise<UploadInitAnswer> {
    const { agentId, grantPublicKey } = this.state.state;
    if (!agentId || !grantPublicKey)
      throw unavailable("not_registered", "This agent has not reached its master yet, so it cannot check upload grants.", "Check the agent's --master and --token.");
    const grant = await verifyGrant(grantPublicKey, body.grant);
    if (grant.agent_id !== agentId) throw forbidden("This upload grant is for another node.");
    if (grant.deployment_id !== body.deployment_id) throw forbidden("This upload grant is for another deployment.");
    checkManifest(body.manifest, this.limits);
    if (manifestDigest(body.manifest) !== grant.manifest_digest)
      throw new SproutError(403, "manifest_mismatch", "The manifest differs from the one the master accepted for this deployment.");
    this.assertOpen(grant.site, body.deployment_id);
    const pending: PendingUpload = { site: grant.site, manifest: body.manifest, manifest_digest: grant.manifest_digest, production: grant.production };
    writeFileSync(this.pendingPath(body.deployment_id), JSON.stringify(pending));
    const missing = this.blobs.missing(body.manifest.map((e) => e.sha256));
    const need = body.manifest.filter((e) => missing.includes(e.sha256));
    this.report({
      deployment_id: body.deployment_id,
      phase: "uploading",
      message: `Node has ${body.manifest.length - need.length} of ${body.manifest.length} files; ${missing.length} to upload.`,
      files_uploaded: 0,
      bytes_uploaded: 0,
    });
    const upload_token = await signUploadToken(this.state.uploadSecret(), { site: grant.site, deployment_id: body.deployment_id, manifest_digest: grant.manifest_digest });
    return { upload_token, missing };
  }

  /** receive consumes the tar stream of POST /api/upload/file. */
  async receive(token: string | null, deploymentId: string | null, body: ReadableStream<Uint8Array> | null): Promise<UploadFileAnswer> {
    if (!token) throw new SproutError(401, "unauthorized", "X-Upload-Token header missing.", "Call POST /api/upload/init first.");
    const claims = await verifyUploadToken(this.state.uploadSecret(), token);
    if (!deploymentId || claims.deployment_id !== deploymentId) throw forbidden("This upload token is for another deployment.");
    this.assertOpen(claims.site, deploymentId);
    const pending = this.pending(deploymentId);
    if (!pending || pending.manifest_digest !== claims.manifest_digest) throw conflict("no_upload", "No upload was started for this deployment here.", "Call POST /api/upload/init first.");
    const { files, bytes } = body ? await this.extract(body, pending.manifest) : { files: 0, bytes: 0 };
    const still = this.blobs.missing(pending.manifest.map((e) => e.sha256));
    this.report({ deployment_id: deploymentId, phase: "uploaded", message: `Received ${files} files (${bytes} bytes).`, files_uploaded: files, bytes_uploaded: bytes });
    if (still.length) return { files_received: files, bytes_received: bytes, staged: false };
    await this.stage(pending.site, deploymentId, pending.manifest, pending.production, { files, bytes });
    return { files_received: files, bytes_received: bytes, staged: true };
  }

  /** stage builds the deployment's tree and reports it (also used by replication). */
  async stage(site: string, deploymentId: string, manifest: Manifest, production: boolean, uploaded?: { files: number; bytes: number }) {
    const t0 = performance.now();
    try {
      const r = await this.deployments.stage(site, deploymentId, manifest);
      rmSync(this.pendingPath(deploymentId), { force: true });
      await this.configure(site, deploymentId, production);
      this.report({
        deployment_id: deploymentId,
        phase: "staged",
        message: `Staged ${r.files} files (${r.gz} precompressed) in ${Math.round(performance.now() - t0)} ms.`,
        ...(uploaded ? { files_uploaded: uploaded.files, bytes_uploaded: uploaded.bytes } : {}),
      });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.markFailed(deploymentId, msg);
      this.report({ deployment_id: deploymentId, phase: "failed", message: `Staging failed: ${msg}` });
      throw e;
    }
  }

  /**
   * configure compiles the deployment's `_redirects` / `_headers` into the site's nginx include and
   * logs each skipped line. A production deployment is only checked here (its activation installs
   * the config, with one reload); a preview's server is installed now. If nginx rejects the result,
   * the deployment is removed again (the site keeps serving what it served) and staging fails.
   */
  private async configure(site: string, deploymentId: string, production: boolean) {
    let warnings;
    try {
      warnings = await this.siteConfig.apply(site, production ? { check: deploymentId } : {});
    } catch (e) {
      this.deployments.discard(site, deploymentId);
      throw new SproutError(422, "rules_rejected", `The site's _redirects or _headers produce configuration that nginx rejects: ${(e as Error).message}`);
    }
    for (const w of warnings.get(deploymentId) ?? [])
      this.report({ deployment_id: deploymentId, phase: "log", level: "warn", message: `${w.file} line ${w.line} skipped: ${w.message}` });
  }

  /**
   * extract checks and stores each tar entry. Blobs verified by this request are adopted at once, so
   * an interrupted upload keeps them and a rerun sends only the rest; but if an entry turns out to be
   * bad, the blobs this request added are removed again: bad input leaves nothing behind.
   */
  private async extract(body: ReadableStream<Uint8Array>, manifest: Manifest): Promise<{ files: number; bytes: number }> {
    const entries = byPath(manifest);
    const added: string[] = [];
    let files = 0;
    let bytes = 0;
    const ex = tarExtract();
    const source = Readable.fromWeb(body as unknown as import("node:stream/web").ReadableStream<Uint8Array>);
    source.on("error", (e) => ex.destroy(e));
    source.pipe(ex);
    try {
      for await (const entry of ex) {
        const h = entry.header;
        const name = h.name.replace(/^\.\//, "");
        if (h.type === "directory") {
          entry.resume();
          continue;
        }
        const problem = entryProblem(h, name);
        if (problem) throw badRequest("bad_archive", `Refused archive entry ${JSON.stringify(name.slice(0, 200))}: ${problem}.`);
        const want = entries.get(name);
        if (!want) throw badRequest("not_in_manifest", `Archive entry ${JSON.stringify(name.slice(0, 200))} is not in the deployment's manifest.`);
        if (h.size !== want.size) throw badRequest("size_mismatch", `${name}: the archive holds ${h.size} bytes, the manifest says ${want.size}.`);
        bytes += h.size ?? 0;
        if (bytes > this.limits.maxTotalBytes) throw tooLarge(`The upload is over the limit of ${this.limits.maxTotalBytes} bytes.`);
        const sha = await this.writeVerified(entry as unknown as AsyncIterable<Buffer>, name, want.size, want.sha256);
        if (sha) added.push(sha);
        files++;
      }
    } catch (e) {
      source.destroy();
      if (e instanceof SproutError) {
        // Bad input: undo everything this request added.
        for (const sha of added) this.blobs.discard(sha);
        throw e;
      }
      // A dropped connection or a truncated stream: keep the files that verified in full, so a rerun
      // uploads only the rest. (Each is content-addressed and checked; none can be wrong.)
      throw badRequest("bad_archive", `The upload is not a complete tar stream: ${(e as Error).message}.`);
    }
    return { files, bytes };
  }

  /**
   * writeVerified takes one entry into a temporary file, checks its digest and adopts it; a
   * compressible blob starts its `.gz` in the background. Small files are gathered in memory and
   * written at once (per-file write streams cost more than the bytes on sites of many small files).
   */
  private async writeVerified(entry: AsyncIterable<Buffer>, name: string, size: number, sha256: string): Promise<string | null> {
    const tmp = this.blobs.tmpPath();
    const hasher = new Bun.CryptoHasher("sha256");
    let body: Buffer | undefined;
    try {
      if (size <= SMALL_FILE) {
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk);
        body = Buffer.concat(chunks);
        hasher.update(body);
        if (hasher.digest("hex") !== sha256) throw badRequest("digest_mismatch", `${name}: its bytes do not match the manifest's SHA-256.`);
        if (this.blobs.has(sha256)) return null;
        writeFileSync(tmp, body, { mode: 0o644 });
      } else {
        const out = createWriteStream(tmp, { mode: 0o644 });
        try {
          for await (const chunk of entry) {
            hasher.update(chunk);
            if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
          }
          await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
        } finally {
          out.destroy();
        }
        if (hasher.digest("hex") !== sha256) throw badRequest("digest_mismatch", `${name}: its bytes do not match the manifest's SHA-256.`);
      }
      const existed = this.blobs.has(sha256);
      this.blobs.adopt(tmp, sha256);
      if (isCompressible(name, size)) void this.blobs.precompress(sha256, body).catch(() => {});
      return existed ? null : sha256;
    } catch (e) {
      rmSync(tmp, { force: true });
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
    if (p) writeFileSync(this.pendingPath(deploymentId), JSON.stringify({ ...p, failed: reason }));
  }

  private pending(deploymentId: string): PendingUpload | null {
    const p = this.pendingPath(deploymentId);
    return existsSync(p) ? (JSON.parse(readFileSync(p, "utf8")) as PendingUpload) : null;
  }

  private pendingPath(deploymentId: string) {
    return join(this.dir, `${deploymentId}.json`);
  }
}

/** entryProblem refuses everything but regular files with a safe relative path. */
function entryProblem(h: Headers, name: string): string | null {
  if (h.type !== "file" && h.type !== "contiguous-file") {
    const kinds: Record<string, string> = { symlink: "a symbolic link", link: "a hard link", "character-device": "a device", "block-device": "a device", fifo: "a FIFO" };
    const kind = kinds[String(h.type)] ?? `of type ${h.type}`;
    return `it is ${kind}; only regular files are accepted`;
  }
  if (h.name.startsWith("/")) return "it is absolute";
  return sitePathProblem(name);
}
