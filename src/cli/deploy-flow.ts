import type { DeploymentCreated, DeploymentEvent, DeploymentInfo, Manifest } from "../protocol/deployment";
import { settled } from "../shared/settled";
import type { UploadFileAnswer, UploadInitAnswer } from "../protocol/upload";
import { DEPLOYMENT_ID_HEADER, UPLOAD_TOKEN_HEADER } from "../protocol/upload-headers";
import { SproutError } from "../shared/errors";
import { Api, parseResponse, request } from "./api";
import { Progress, bytes, dim, info, red } from "./output";
import { SPROUTIGNORE } from "./deploy-ignore";
import { hashFiles, protectPasswords, readHashCacheText, walkSite, type LocalFile } from "./walk";
import { addNetlifyToml } from "./netlify-toml";
import { tarStream } from "./tar-pack";

/**
 * mark prints how long each phase of a deploy took on stderr when SPROUT_TIMINGS is set (the
 * profile of scripts/profile-deploy.ts); it costs nothing otherwise.
 */
const timings = process.env.SPROUT_TIMINGS ? { last: 0 } : null;
function mark(phase: string) {
  if (!timings) return;
  const now = performance.now();
  process.stderr.write(`[profile] ${phase}: ${(now - timings.last).toFixed(1)} ms (at ${now.toFixed(1)} ms since the process started)\n`);
  timings.last = now;
}

/** NODE_RETRY_MS: how long a deploy keeps asking a node that does not answer (a restart takes seconds). */
const NODE_RETRY_MS = 30_000;

/** BUSY_WAIT_MS: how long a deploy waits for the node to take this account's upload (429: others of its uploads in progress). */
const BUSY_WAIT_MS = 10 * 60_000;

/** DeployResult is what `sprout deploy --json` prints. */
export interface DeployResult {
  deployment_id: string;
  site: string;
  status: DeploymentInfo["status"];
  production: boolean;
  is_production: boolean;
  /** superseded: a newer production change came first (this deployment stays a preview). */
  superseded: boolean;
  url: string;
  preview_url: string;
  files_total: number;
  /** files_ignored: files of the folder left out (dotfiles, node_modules, .sproutignore). */
  files_ignored: number;
  files_uploaded: number;
  bytes_total: number;
  bytes_uploaded: number;
  message: string | null;
  error: string | null;
}

/**
 * DeployOptions: `quiet` prints nothing (sprout up); `message` is stored with the deployment; `ignore`
 * adds sprout.json's patterns; `projectDir` is where a netlify.toml is looked for first (sprout.json's
 * folder, else the current one).
 */
export interface DeployOptions {
  quiet?: boolean;
  message?: string;
  ignore?: string[];
  projectDir?: string;
}

/**
 * deploy publishes a folder: hash (with the local cache), create the deployment, ask the node what it
 * lacks, stream just that as one tar, then follow the deployment's log until it is live or failed.
 */
export async function deploy(api: Api, dir: string, site: string, production: boolean, opts: DeployOptions = {}): Promise<DeployResult> {
  const say = opts.quiet ? () => {} : info;
  mark("start of deploy()");
  const cacheText = readHashCacheText(dir);
  const { files, ignored, ignoredExamples } = walkSite(dir, opts.ignore);
  if (ignored)
    say(`Left out ${ignored} file${ignored === 1 ? "" : "s"} (dotfiles, node_modules, ${SPROUTIGNORE}): ${ignoredExamples.join(", ")}${ignored > ignoredExamples.length ? ", ..." : ""}`);
  protectPasswords(files, site);
  const toml = addNetlifyToml(files, dir, opts.projectDir, site);
  if (toml) say(toml);
  mark("walk");
  const hashing = new Progress("Hashing");
  const { manifest, hashed } = await hashFiles(files, (done) => !opts.quiet && hashing.update(() => `${done}/${files.length} files`), dir, cacheText);
  const total = manifest.reduce((n, e) => n + e.size, 0);
  if (!opts.quiet) hashing.done(`${files.length} files, ${bytes(total)} (${hashed} hashed, ${files.length - hashed} from cache)`);
  mark("hash");

  const create = () => api.call<DeploymentCreated>("POST", "/api/deployment", { site, production, manifest, ...(opts.message ? { message: opts.message } : {}) });
  const cancel = (id: string) => api.call("POST", `/api/site/${encodeURIComponent(site)}/cancel`, { deployment_id: id }).catch(() => {});
  let created = await create();
  let dep = created.deployment;
  mark("POST /api/deployment");
  say(`Deployment ${dep.id} of ${site} (${production ? "production" : "preview"}) on ${created.upload.agent_url}`);

  // A node that does not answer (restarting, or its connection cut mid-upload) is asked again for a
  // while: what it verified before is kept, so each new try uploads only what is still missing.
  let retryUntil = Date.now() + NODE_RETRY_MS;
  let moved = false;
  // A node refuses an account's uploads beyond a few at once (a CI job deploying many sites in
  // parallel): this one waits its turn, for as long as the others take, up to BUSY_WAIT_MS.
  const busyUntil = Date.now() + BUSY_WAIT_MS;
  let away = false;
  let waiting = false;
  for (;;) {
    try {
      await upload(created, manifest, files, say, opts.quiet);
      if (away) say(`  ${dim("The node answers again.")}`);
      break;
    } catch (e) {
      if (e instanceof SproutError && e.code === "unreachable" && Date.now() < retryUntil) {
        if (!away) say(`  ${dim(`${e.message} Trying again for up to ${NODE_RETRY_MS / 1000} s (the node may be restarting)...`)}`);
        away = true;
        await Bun.sleep(1000);
        continue;
      }
      if (e instanceof SproutError && e.code === "unreachable" && !moved) {
        // Still away: the master has counted it down by now (--offline-after, 15 s by default), and
        // places a new deployment on the site's nodes that are up; this one is cancelled.
        moved = true;
        const next = await create();
        if (next.upload.agent_id === created.upload.agent_id) {
          await cancel(next.deployment.id);
          throw e;
        }
        await cancel(dep.id);
        say(`  ${dim(`The node still does not answer: deployment ${next.deployment.id} goes to ${next.upload.agent_url} instead.`)}`);
        created = next;
        dep = next.deployment;
        retryUntil = Date.now() + NODE_RETRY_MS;
        away = false;
        continue;
      }
      if (e instanceof SproutError && e.code === "uploads_busy" && Date.now() < busyUntil) {
        if (!waiting) say(`  ${dim(`${e.message} Waiting for one to finish (up to ${BUSY_WAIT_MS / 60_000} min)...`)}`);
        waiting = true;
        await Bun.sleep(1000 + Math.random() * 1000);
        continue;
      }
      // The node refused to stage it (e.g. rules nginx rejects) and marked it failed: report that
      // deployment's outcome, as for any other failure, rather than a bare error.
      if (!(e instanceof SproutError) || e.status >= 500 || e.status === 401) throw e;
      const d = await follow(api, dep.id, production, () => {}, 5000).catch(() => null);
      if (!d || d.status !== "failed") throw e;
      say(`  ${red(d.error ?? e.message)}`);
      return result(d, ignored);
    }
  }
  const done = await follow(api, dep.id, production, say);
  mark("follow until live");
  return result(done, ignored);
}

async function upload(created: DeploymentCreated, manifest: Manifest, files: LocalFile[], say: (l: string) => void, quiet?: boolean) {
  const dep = created.deployment;
  const agent = created.upload.agent_url;
  // The node's self-signed certificate is accepted by the pin the master gave (over its own HTTPS).
  const pin = created.upload.agent_pin ?? null;
  const init = await parseResponse<UploadInitAnswer>(
    await request(`${agent}/api/upload/init`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant: created.upload.grant, deployment_id: dep.id, manifest }),
    }, `the node at ${agent}`, pin),
  );
  mark("upload/init");
  const missing = new Set(init.missing);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const toSend: LocalFile[] = [];
  for (const e of manifest) {
    if (missing.delete(e.sha256)) toSend.push(byPath.get(e.path)!);
  }
  const sendBytes = toSend.reduce((n, f) => n + f.size, 0);
  say(`Uploading ${toSend.length} of ${files.length} files (${bytes(sendBytes)}); the node has the rest.`);
  const up = new Progress("Uploading");
  let sentFiles = 0;
  let sentBytes = 0;
  const body = tarStream(toSend, (n, done) => {
    sentBytes += n;
    if (done) sentFiles++;
    if (!quiet) up.update((t) => `${sentFiles}/${toSend.length} files, ${bytes(sentBytes)}/${bytes(sendBytes)}, ${bytes(sentBytes / Math.max(t, 0.001))}/s`);
  });
  const answer = await parseResponse<UploadFileAnswer>(
    await request(`${agent}/api/upload/file`, {
      method: "POST",
      headers: { "content-type": "application/x-tar", [UPLOAD_TOKEN_HEADER]: init.upload_token, [DEPLOYMENT_ID_HEADER]: dep.id },
      body,
      // @ts-expect-error: Bun and Node need `duplex` to stream a request body.
      duplex: "half",
    }, `the node at ${agent}`, pin),
  );
  mark("upload/file (stream, verify, stage)");
  if (!quiet) up.done(`${answer.files_received} files, ${bytes(answer.bytes_received)} in ${up.elapsed().toFixed(1)} s`);
  if (!answer.staged) throw new SproutError(500, "not_staged", "The node did not receive every file.", "Run the deploy again: it uploads only what is still missing.");
}

function result(final: DeploymentInfo, ignored: number): DeployResult {
  return {
    deployment_id: final.id,
    site: final.site,
    status: final.status,
    production: final.production,
    is_production: final.is_production,
    superseded: final.superseded ?? false,
    url: final.url,
    preview_url: final.preview_url,
    files_total: final.files_total,
    files_ignored: ignored,
    files_uploaded: final.files_uploaded,
    bytes_total: final.bytes_total,
    bytes_uploaded: final.bytes_uploaded,
    message: final.message,
    error: final.error,
  };
}

/** FOLLOW_WAIT_MS: how long one request of `follow` lets the master wait for news. */
const FOLLOW_WAIT_MS = 5000;

/**
 * follow prints a deployment's new log lines until it is ready or failed (and, when `production`, until
 * production serves it).
 */
export async function follow(api: Api, id: string, production: boolean, say: (l: string) => void = info, timeoutMs = 300_000, after = 0, onEvent?: (e: DeploymentEvent) => void): Promise<DeploymentInfo> {
  const deadline = Date.now() + timeoutMs;
  let away = false;
  for (;;) {
    let d: DeploymentInfo;
    const asked = Date.now();
    try {
      // A long poll: the master answers at the deployment's next log line (or after `wait` ms).
      const wait = Math.max(0, Math.min(FOLLOW_WAIT_MS, deadline - Date.now()));
      d = await api.call<DeploymentInfo>("GET", `/api/deployment/${id}?after=${after}&wait=${wait}`);
    } catch (e) {
      // The master restarting does not stop the deploy on the nodes: wait for it and carry on.
      if (!(e instanceof SproutError) || (e.code !== "unreachable" && e.status < 500) || Date.now() > deadline) throw e;
      if (!away) say(`  ${dim("The master is unreachable; waiting for it (the nodes go on with the deploy)...")}`);
      away = true;
      await Bun.sleep(500);
      continue;
    }
    if (away) say(`  ${dim("The master is back.")}`);
    away = false;
    let failedStep = false;
    for (const e of d.events ?? []) {
      after = e.id;
      failedStep ||= e.level === "error";
      onEvent?.(e);
      say(`  ${dim(e.at.slice(11, 23))} ${e.level === "error" ? red(e.message) : e.message}${e.agent ? dim(` [${e.agent}]`) : ""}`);
    }
    if (settled(d, production)) return d;
    // A ready deployment that a node could not activate (e.g. collected there) will not go live.
    if (failedStep && d.status === "ready") return d;
    if (Date.now() > deadline) throw new SproutError(504, "timeout", `Deployment ${id} is still ${d.status} after ${timeoutMs / 1000} s.`, "Check the nodes with `sprout agents`.");
    // A master that answered at once with nothing new does not wait (an older one): poll gently.
    if (!d.events?.length && Date.now() - asked < 40) await Bun.sleep(50);
  }
}
