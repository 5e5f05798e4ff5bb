// Profiles one tiny-files cold deploy and one one-file redeploy end to end: the CLI's own phases
// (SPROUT_PROFILE=1 makes it print them on stderr), the deployment's events as the master recorded
// them, and wall/CPU time of each process. Run with `bun scripts/profile-deploy.ts [tiny|cold|redeploy]`;
// TRACE="strace -c -f -p PID -o FILE" (or perf) runs a tracer on the agent during each deploy,
// AGENT_ARGS passes flags to the agent (e.g. "--brotli-module off"), ONE=1 makes one tiny deploy only,
// CLI_WRAP runs the CLI under a command (e.g. "perf record -o /tmp/cli.data --").
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { api, cleanup, cluster, sproutBinary, tempDir } from "../test/helpers/cluster";
import { BENCH_QUOTAS, cpuMs, makeSite, sh } from "./bench-lib";

async function run(c: Awaited<ReturnType<typeof cluster>>, dir: string, site: string, cache: string, label: string) {
  const pids = { agent: c.nodes[0]!.p.proc.pid, master: c.masterProc.proc.pid };
  const before = { agent: cpuMs(pids.agent), master: cpuMs(pids.master) };
  sh("sync");
  const tracer = process.env.TRACE ? Bun.spawn(["bash", "-c", process.env.TRACE.replaceAll("PID", String(pids.agent))], { stdout: "inherit", stderr: "inherit" }) : null;
  if (tracer) await Bun.sleep(1000);
  const t0 = performance.now();
  const startIso = new Date().toISOString();
  const wrap = process.env.CLI_WRAP ? process.env.CLI_WRAP.split(" ") : [];
  const p = Bun.spawn([...wrap, sproutBinary(), "deploy", dir, "--site", site, "--prod", "--json"], {
    env: { ...process.env, SPROUT_MASTER: c.master, SPROUT_TOKEN: c.admin.token, SPROUT_CONFIG_DIR: join(c.home, "cli-config"), SPROUT_CACHE_DIR: cache, SPROUT_LOG: "", SPROUT_TIMINGS: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if ((await p.exited) !== 0) throw new Error(`${out}\n${err}`);
  const t1 = performance.now();
  if (tracer) {
    tracer.kill("SIGINT");
    await tracer.exited;
  }
  sh("sync");
  const t2 = performance.now();
  const ru = p.resourceUsage()!;
  const d = JSON.parse(out);
  const events = (await api(c.master, "GET", `/api/deployment/${d.deployment_id}`, undefined, c.admin.token)).body.events;
  console.log(`\n=== ${label}: deploy ${(t1 - t0).toFixed(0)} ms, + sync ${(t2 - t1).toFixed(0)} ms`);
  console.log(`CPU ms: cli ${(Number(ru.cpuTime.user + ru.cpuTime.system) / 1000).toFixed(0)}, agent ${cpuMs(pids.agent) - before.agent}, master ${cpuMs(pids.master) - before.master}`);
  console.log(err.split("\n").filter((l) => l.startsWith("[profile]")).join("\n"));
  const base = Date.parse(startIso);
  for (const e of events) console.log(`  +${Date.parse(e.at) - base} ms ${e.message}`);
}

const work = tempDir("sprout-prof-");

/** newSite writes a site of `files` files, about `bytes` in all, into a new folder of the work folder. */
function newSite(name: string, files: number, bytes: number, seed: number): string {
  const dir = join(work, name);
  mkdirSync(dir);
  makeSite(dir, files, bytes, seed);
  return dir;
}

/** tarBaseline copies `src` with `tar | tar` and `sync`, and prints how long that took. */
function tarBaseline(src: string) {
  const copy = join(work, `copy-${basename(src)}`);
  mkdirSync(copy);
  sh("sync");
  const t = performance.now();
  sh(`tar -C ${src} -cf - . | tar -C ${copy} -xf - && sync`);
  console.log(`tar|tar: ${(performance.now() - t).toFixed(0)} ms`);
}

const c = await cluster({ masterArgs: BENCH_QUOTAS, agentArgs: process.env.AGENT_ARGS ? process.env.AGENT_ARGS.split(" ") : [] });
try {
  const only = process.argv[2];
  if (!only || only === "tiny") {
    await run(c, newSite("tiny", 5000, 5 * 1024 * 1024, 101), "tiny0", join(work, "cache-tiny"), "cold 5,000 tiny files");
    const tiny2 = newSite("tiny2", 5000, 5 * 1024 * 1024, 102);
    tarBaseline(tiny2);
    if (!process.env.ONE) await run(c, tiny2, "tiny1", join(work, "cache-tiny2"), "cold 5,000 tiny files (2)");
  }
  if (only === "cold") {
    const cold = newSite("cold", 5000, 100 * 1024 * 1024, 201);
    await run(c, cold, "cold0", join(work, "cache-cold"), "cold 5,000 files / 100 MB");
    tarBaseline(cold);
  }
  if (!only || only === "redeploy") {
    const many = newSite("many", 10_000, 40 * 1024 * 1024, 7);
    const cache = join(work, "cache-many");
    await run(c, many, "many", cache, "first deploy 10,000");
    for (let r = 0; r < 2; r++) {
      writeFileSync(join(many, "index.html"), `<!doctype html><title>changed ${r}</title>`);
      const mirror = join(work, "mirror");
      if (r === 0) sh(`rsync -a ${many}/ ${mirror}/ && sync`);
      const t = performance.now();
      sh(`rsync -a ${many}/ ${mirror}/ && sync`);
      console.log(`rsync: ${(performance.now() - t).toFixed(0)} ms`);
      writeFileSync(join(many, "index.html"), `<!doctype html><title>changed again ${r}</title>`);
      await run(c, many, "many", cache, `redeploy one file ${r}`);
    }
  }
} finally {
  await c.stop();
  await cleanup();
}
