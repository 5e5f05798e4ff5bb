// A/B of two builds on the deploy targets at the same moment (interleaved, one cluster each):
// `bun scripts/ab-deploy.ts OTHER_BINARY` compares dist/sprout (this tree) with OTHER_BINARY on cold
// deploys of 5,000 tiny files (against `tar | tar`) and one-file redeploys of 10,000 (against rsync).
// SIZE_MB=100 makes the cold sites 100 MB; REDEPLOY=0 stops after the cold part; RUNS sets the rounds.
// On a shared machine whose load moves by the minute, runs of the bench minutes apart do not compare.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanup, cluster, copyBinary, sproutBinary, tempDir, withBinary, type Cluster } from "../test/helpers/cluster";
import { BENCH_QUOTAS, cpuMs, makeSite, med, min, sh } from "./bench-lib";

const other = process.argv[2];
if (!other) throw new Error("usage: bun scripts/ab-deploy.ts OTHER_BINARY");
const bins = { this: sproutBinary(), other: copyBinary(other) };
const RUNS = Number(process.env.RUNS ?? 4);
/** SIZE_MB: the cold site's size (5,000 files; 5 MB: tiny files); REDEPLOY=0 skips the redeploy part. */
const SIZE_MB = Number(process.env.SIZE_MB ?? 5);

async function deploy(bin: string, c: Cluster, dir: string, site: string, cache: string) {
  const pids = [c.nodes[0]!.p.proc.pid, c.masterProc.proc.pid];
  const before = pids.map(cpuMs);
  const t0 = performance.now();
  const p = Bun.spawn([bin, "deploy", dir, "--site", site, "--prod", "--json"], {
    env: { ...process.env, SPROUT_MASTER: c.master, SPROUT_TOKEN: c.admin.token, SPROUT_CONFIG_DIR: join(c.home, "cli-config"), SPROUT_CACHE_DIR: cache, SPROUT_LOG: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if ((await p.exited) !== 0) throw new Error(`${out}\n${err}`);
  const seconds = (performance.now() - t0) / 1000;
  const ru = p.resourceUsage()!;
  const cpu = Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6 + pids.map(cpuMs).reduce((n, x, i) => n + x - before[i]!, 0) / 1000;
  return { seconds, cpu, out: JSON.parse(out) };
}

function base(cmd: string) {
  const t0 = performance.now();
  const r = Bun.spawnSync(["bash", "-c", cmd]);
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  return { seconds: (performance.now() - t0) / 1000, cpu: Number(r.resourceUsage!.cpuTime.user + r.resourceUsage!.cpuTime.system) / 1e6 };
}

class Done {}
const fmt = (a: number[]) => `${min(a).toFixed(2)} / ${med(a).toFixed(2)}`;
const work = tempDir("sprout-ab-");
const cs: Record<"this" | "other", Cluster> = {
  this: await withBinary(bins.this, () => cluster({ masterArgs: BENCH_QUOTAS })),
  other: await withBinary(bins.other, () => cluster({ masterArgs: BENCH_QUOTAS })),
};
const order = (r: number) => (r % 2 ? (["other", "this"] as const) : (["this", "other"] as const));
try {
  const t: Record<string, number[]> = { tar: [], tarCpu: [], this: [], thisCpu: [], other: [], otherCpu: [] };
  for (let r = 0; r < RUNS; r++) {
    const src = join(work, `tiny${r}`);
    mkdirSync(src);
    makeSite(src, 5000, SIZE_MB * 1024 * 1024, 200 + r);
    const copy = join(work, `copy${r}`);
    mkdirSync(copy);
    sh("sync");
    const b = base(`tar -C ${src} -cf - . | tar -C ${copy} -xf - && sync`);
    t.tar!.push(b.seconds);
    t.tarCpu!.push(b.cpu);
    for (const k of order(r)) {
      sh("sync");
      const d = await deploy(bins[k], cs[k], src, `tiny${r}`, join(work, `cache-${k}-${r}`));
      sh("sync");
      t[k]!.push(d.seconds);
      t[`${k}Cpu`]!.push(d.cpu);
    }
  }
  console.log(`cold 5,000 files / ${SIZE_MB} MB (min / median s): tar|tar ${fmt(t.tar!)} (cpu ${fmt(t.tarCpu!)}); this ${fmt(t.this!)} (cpu ${fmt(t.thisCpu!)}), ratio ${(min(t.this!) / min(t.tar!)).toFixed(1)} / ${(med(t.this!) / med(t.tar!)).toFixed(1)}; other ${fmt(t.other!)} (cpu ${fmt(t.otherCpu!)}), ratio ${(min(t.other!) / min(t.tar!)).toFixed(1)} / ${(med(t.other!) / med(t.tar!)).toFixed(1)}`);

  if (process.env.REDEPLOY === "0") throw new Done();
  const many = join(work, "many");
  mkdirSync(many);
  makeSite(many, 10_000, 40 * 1024 * 1024, 7);
  for (const k of ["this", "other"] as const) await deploy(bins[k], cs[k], many, "many", join(work, `cache-many-${k}`));
  const mirror = join(work, "mirror");
  sh(`rsync -a ${many}/ ${mirror}/ && sync`);
  const u: Record<string, number[]> = { rsync: [], rsyncCpu: [], this: [], thisCpu: [], other: [], otherCpu: [] };
  for (let r = 0; r < RUNS; r++) {
    writeFileSync(join(many, "index.html"), `<!doctype html><title>changed ${r}</title>`);
    const b = base(`rsync -a ${many}/ ${mirror}/ && sync`);
    u.rsync!.push(b.seconds);
    u.rsyncCpu!.push(b.cpu);
    for (const k of order(r)) {
      const d = await deploy(bins[k], cs[k], many, "many", join(work, `cache-many-${k}`));
      if (d.out.files_uploaded !== 1) throw new Error(`${k} uploaded ${d.out.files_uploaded}`);
      u[k]!.push(d.seconds);
      u[`${k}Cpu`]!.push(d.cpu);
    }
  }
  console.log(`redeploy 1 of 10,000 (min / median s): rsync ${fmt(u.rsync!)} (cpu ${fmt(u.rsyncCpu!)}); this ${fmt(u.this!)} (cpu ${fmt(u.thisCpu!)}), ratio ${(min(u.this!) / min(u.rsync!)).toFixed(1)} / ${(med(u.this!) / med(u.rsync!)).toFixed(1)}; other ${fmt(u.other!)} (cpu ${fmt(u.otherCpu!)}), ratio ${(min(u.other!) / min(u.rsync!)).toFixed(1)} / ${(med(u.other!) / med(u.rsync!)).toFixed(1)}`);
} catch (e) {
  if (!(e instanceof Done)) throw e;
} finally {
  await cs.this.stop();
  await cs.other.stop();
  await cleanup();
}
