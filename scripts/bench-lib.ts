// Helpers shared by the bench scenarios (scripts/bench.ts, bench-deploy.ts).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Cluster } from "../test/helpers/cluster";

export const results: { name: string; value: string; baseline: string; ratio: string; target: string }[] = [];
export const row = (name: string, value: string, baseline = "", ratio = "", target = "") => {
  results.push({ name, value, baseline, ratio, target });
  console.error(`  ${name}: ${value}${baseline ? ` (baseline ${baseline}, ratio ${ratio})` : ""}${target ? ` target ${target}` : ""}`);
};

/**
 * makeSite writes `files` files totalling about `totalBytes` in 50 folders: half text (compressible),
 * half random. `seed` makes every run's text differ, so a node holding an earlier run's blobs has
 * none of this one's (each cold run is cold).
 */
export function makeSite(dir: string, files: number, totalBytes: number, seed = 0) {
  const avg = Math.floor(totalBytes / files);
  for (let i = 0; i < files; i++) {
    const sub = join(dir, `d${i % 50}`);
    if (i < 50) mkdirSync(sub, { recursive: true });
    const size = Math.max(16, Math.floor(avg * (0.5 + ((i * 7919) % 100) / 100)));
    const body = i % 2 ? randomBytes(size) : Buffer.from(`/* run ${seed} file ${i} */ `.repeat(Math.ceil(size / 16)).slice(0, size));
    writeFileSync(join(sub, `f${i}.${i % 2 ? "bin" : "css"}`), body);
  }
  writeFileSync(join(dir, "index.html"), `<!doctype html><title>bench ${seed}</title>${"<p>Lorem ipsum dolor sit amet.</p>".repeat(300)}`);
}

export const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
export const min = (a: number[]) => Math.min(...a);
/** spread prints "min / median" of seconds. */
export const spread = (a: number[], unit: "s" | "ms" = "s") =>
  unit === "s" ? `${min(a).toFixed(2)} / ${med(a).toFixed(2)} s` : `${(min(a) * 1000).toFixed(0)} / ${(med(a) * 1000).toFixed(0)} ms`;
export const ratios = (ours: number[], base: number[]) => `${(min(ours) / min(base)).toFixed(1)} / ${(med(ours) / med(base)).toFixed(1)}`;

/** cpuMs answers a process's user + system CPU time so far, in ms (from /proc). */
export function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

export const time = async (f: () => Promise<unknown> | unknown) => {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
};

/**
 * settle waits until the process `pid` (with its threads) is idle: under `idleMs` of CPU per second,
 * at most `maxMs`. Answers the ms waited. The agent precompresses a deploy's files with brotli on a
 * background thread after it is live: a measurement started meanwhile shares the cores with it.
 */
export async function settle(pid: number, idleMs = 50, maxMs = 180_000): Promise<number> {
  const t0 = Date.now();
  for (let was = cpuMs(pid); Date.now() - t0 < maxMs; ) {
    await Bun.sleep(1000);
    const now = cpuMs(pid);
    if (now - was < idleMs) break;
    was = now;
  }
  return Date.now() - t0;
}

/**
 * needTools stops the bench before any work when a program it measures against is missing, naming
 * the Debian package (the baselines are real programs: rsync, wrk, taskset, curl).
 */
export function needTools(tools: Record<string, string>) {
  const missing = Object.entries(tools).filter(([cmd]) => !Bun.which(cmd));
  if (!missing.length) return;
  console.error(`bench: missing ${missing.map(([cmd]) => cmd).join(", ")}; install with: apt-get install ${[...new Set(missing.map(([, pkg]) => pkg))].join(" ")}`);
  process.exit(1);
}

export function sh(cmd: string) {
  const r = Bun.spawnSync(["bash", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** BENCH_QUOTAS: the bench's account may hold every site and deployment it makes. */
export const BENCH_QUOTAS = ["--quota-sites", "20000", "--quota-deploys-per-hour", "100000", "--quota-bytes", "200G", "--quota-files", "100000"];

export async function deploy(c: Cluster, dir: string, site: string, cacheDir: string) {
  const r = await c.sprout(["deploy", dir, "--site", site, "--prod", "--json"], { SPROUT_CACHE_DIR: cacheDir });
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

export function rssMb(pid: number) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? (Number(m[1]) / 1024).toFixed(0) : "?";
}

export function wrk(url: string, host: string | null, headers: string[] = []) {
  const out = sh(`wrk -t2 -c64 -d3s ${host ? `-H 'Host: ${host}'` : ""} ${headers.map((h) => `-H '${h}'`).join(" ")} ${url}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0";
  return { rps, errors: Number(errors) };
}

