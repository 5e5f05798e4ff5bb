import { secureFetch } from "./tls";
import { chmodSync, existsSync, linkSync, renameSync, rmSync } from "node:fs";
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
    let res: Response;
    try {
      res = await secureFetch(src.url, { signal: AbortSignal.timeout(300_000) }, src.pin);
    } catch (e) {
      throw new SproutError(503, "download_failed", `Could not download ${src.url}: ${(e as Error).message}.`, "Check that the master is reachable from this machine.");
    }
    if (!res.ok || !res.body) throw new SproutError(502, "download_failed", `Downloading ${src.url} answered HTTP ${res.status}.`, "The master serves only the binary it runs (see GET /download/ on it).");
    const hasher = new Bun.CryptoHasher("sha256");
    const sink = Bun.file(tmp).writer();
    try {
      for await (const chunk of res.body) {
        hasher.update(chunk);
        sink.write(chunk);
      }
    } catch (e) {
      throw new SproutError(503, "download_failed", `Could not write the new binary beside ${target}: ${(e as Error).message}.`, "Free disk space, or check that this user may write that folder.");
    } finally {
      await sink.end();
    }
    const got = hasher.digest("hex");
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
