import { secureFetch } from "./tls";
import { chmodSync, closeSync, existsSync, ftruncateSync, linkSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { SproutError, unreachableReason } from "./errors";

/** ARCH is this machine's architecture as the master's download names spell it (x64, arm64). */
export const ARCH = process.arch === "arm64" ? "arm64" : process.arch === "x64" ? "x64" : process.arch;

/** binaryName is the file the master serves for an architecture under /download/. */
export const binaryName = (arch = ARCH) => `sprout-linux-${arch}`;

/**
 * compiledBinary answers the path of the running compiled `sprout`, or null when it runs from source
 * (`bun src/main.ts`), which has no single file to give away or to replace.
 */
export function compiledBinary(): string | null {
  const compiled = Bun.main.startsWith("/$bunfs") || Bun.main.includes("~BUN");
  return compiled && existsSync(process.execPath) ? process.execPath : null;
}

/** UpgradeSource is where a new binary comes from and what it must be. */
export interface UpgradeSource {
  /** url of the binary, e.g. http://master:7000/download/sprout-linux-x64 */
  url: string;
  /** sha256 the bytes must have (hex). */
  sha256: string;
  /** version the binary must print with --version, when known beforehand. */
  version?: string;
  /** pin of the master's self-signed certificate, if it has one. */
  pin?: string | null;
}

/**
 * installBinary downloads a new `sprout` next to `target`, checks its SHA-256 and that it runs and
 * prints the expected version, then renames it over `target` (atomic: a process starting at any
 * moment runs the old file or the new one, never half of one). The file it replaced stays as
 * `target.previous` for a manual rollback. Answers the version the new binary reports.
 */
export async function installBinary(src: UpgradeSource, target: string): Promise<string> {
  const dir = dirname(target);
  const tmp = join(dir, `.sprout-upgrade-${process.pid}-${Date.now()}`);
  try {
    const got = await download(src, tmp, target);
    if (got !== src.sha256.toLowerCase())
      throw new SproutError(502, "checksum_mismatch", `The downloaded binary's SHA-256 is ${got}, not the ${src.sha256} the master announced: not installed.`, "Try again; if it persists, something between this machine and the master alters downloads.");
    chmodSync(tmp, 0o755);
    const run = runVersion(tmp);
    const version = /^sprout (\S+)/.exec(run.stdout.toString())?.[1];
    if (run.exitCode !== 0 || !version) throw new SproutError(502, "binary_broken", "The downloaded binary does not run on this machine: not installed.", "Check that the master's architecture matches this machine's.");
    if (src.version && version !== src.version)
      throw new SproutError(502, "version_mismatch", `The downloaded binary is sprout ${version}, not the ${src.version} the master announced: not installed.`);
    if (existsSync(target)) {
      rmSync(`${target}.previous`, { force: true });
      linkSync(target, `${target}.previous`);
    }
    renameSync(tmp, target);
    return version;
  } catch (e) {
    if (e instanceof SproutError) throw e;
    throw new SproutError(500, "upgrade_failed", `Could not replace ${target}: ${(e as Error).message}.`, "Run the upgrade as a user who may write that file (root for /usr/local/bin).");
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** STALL_MS: a download that receives nothing this long is asked again from where it stopped. */
const STALL_MS = 60_000;
/** MAX_TRIES: how many times a download is asked again in a row without receiving a byte more. */
const MAX_TRIES = 5;

/**
 * download writes the binary at `src.url` to `tmp` and answers its SHA-256. A transfer that is cut
 * (a slow link: the master's HTTP server closes a response that takes more than a few of its idle
 * timeouts, however well it progresses) or that stalls is asked again from where it stopped (Range),
 * so a slow link downloads the whole file in parts rather than failing; only tries that bring no
 * byte more count against MAX_TRIES. A server that ignores Range starts the file over.
 */
async function download(src: UpgradeSource, tmp: string, target: string): Promise<string> {
  const fd = openSync(tmp, "w", 0o600);
  let hasher = new Bun.CryptoHasher("sha256");
  let have = 0;
  try {
    for (let fruitless = 0; ; ) {
      const abort = new AbortController();
      let stall = setTimeout(() => abort.abort(new Error(`nothing arrived for ${STALL_MS / 1000} s`)), STALL_MS);
      const before = have;
      let total = -1;
      try {
        const res = await secureFetch(src.url, { signal: abort.signal, headers: have ? { range: `bytes=${have}-` } : {} }, src.pin);
        if (res.status === 200 && have) {
          // The range was not honoured: the answer is the whole file again.
          ftruncateSync(fd, 0);
          have = 0;
          hasher = new Bun.CryptoHasher("sha256");
        } else if (!(res.status === 200 || (res.status === 206 && have)) || !res.body) {
          throw new SproutError(502, "download_failed", `Downloading ${src.url} answered HTTP ${res.status}.`, "The master serves only the binary it runs (see GET /download/ on it).");
        }
        const length = Number(res.headers.get("content-length") ?? "-1");
        total = length >= 0 ? have + length : -1;
        for await (const chunk of res.body!) {
          clearTimeout(stall);
          stall = setTimeout(() => abort.abort(new Error(`nothing arrived for ${STALL_MS / 1000} s`)), STALL_MS);
          try {
            for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at, chunk.length - at, have + at);
          } catch (e) {
            throw new SproutError(503, "download_failed", `Could not write the new binary beside ${target}: ${(e as Error).message}.`, "Free disk space, or check that this user may write that folder.");
          }
          hasher.update(chunk);
          have += chunk.length;
        }
        if (total < 0 || have >= total) return hasher.digest("hex");
      } catch (e) {
        if (e instanceof SproutError) throw e;
        if (have === before && ++fruitless >= MAX_TRIES)
          throw new SproutError(503, "download_failed", `Could not download ${src.url}: ${unreachableReason(e as Error)} (${MAX_TRIES} tries${have ? `, ${have} bytes in` : ""}).`, "Check that the master is reachable from this machine, then run the upgrade again.");
      } finally {
        clearTimeout(stall);
      }
      if (have > before) fruitless = 0;
      // Cut short: ask again for the rest.
      await Bun.sleep(have > before ? 100 : 1000);
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * runVersion runs `bin --version`. Right after the file was written, a process this one forked at
 * that moment (nginx, a check) may briefly hold it open for writing, and Linux then refuses to run
 * it (ETXTBSY) until that child execs: a few tries wait that out.
 */
function runVersion(bin: string) {
  for (let i = 0; ; i++) {
    try {
      return Bun.spawnSync([bin, "--version"], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "" } });
    } catch (e) {
      if (i >= 20 || !String((e as Error).message).includes("ETXTBSY")) throw e;
      Bun.sleepSync(100);
    }
  }
}

/** readSha256 fetches the `<sha>  <name>` line the master serves beside a binary. */
export async function readSha256(url: string, pin?: string | null): Promise<string> {
  const res = await secureFetch(`${url}.sha256`, { signal: AbortSignal.timeout(30_000) }, pin).catch((e: Error) => {
    throw new SproutError(503, "unreachable", `Cannot reach ${url}.sha256: ${unreachableReason(e)}.`, "Is `sprout master` running, and is --master right?");
  });
  const sha = /^([0-9a-f]{64})\b/.exec(await res.text())?.[1];
  if (!res.ok || !sha) throw new SproutError(502, "download_failed", `${url}.sha256 answered HTTP ${res.status} without a checksum.`, "This master has no binary for this machine (it runs from source, or for another architecture).");
  return sha;
}
