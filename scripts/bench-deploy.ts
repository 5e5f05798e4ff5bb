// The deploy targets of issue 8, each against its baseline measured in the same run, alternating
// ours and the baseline so that the machine's drift hits both: cold deploys against `tar | tar`,
// a one-file redeploy against `rsync` of the same change, the agent's memory during a cold deploy,
// the CLI's start to its first request, `Uploads.init` at three manifest sizes, and GET /api/sites
// with 10,000 sites. Every timing awaits the work to its end (a deploy until the site is live, a
// copy until `sync` returned).
import { Database } from "bun:sqlite";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { api, sproutBinary, type Cluster } from "../test/helpers/cluster";
import { cpuMs, deploy, makeSite, med, min, ratios, row, settle, sh, spread, time } from "./bench-lib";

const RUNS = 3;

/** peakRss samples a process's resident memory every 20 ms while `f` runs; answers the peak in MB. */
async function peakRss(pid: number, f: () => Promise<unknown>): Promise<number> {
  let peak = 0;
  let on = true;
  const sample = (async () => {
    while (on) {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      peak = Math.max(peak, Number(m?.[1] ?? 0) / 1024);
      await Bun.sleep(20);
    }
  })();
  try {
    await f();
  } finally {
    on = false;
    await sample;
  }
  return peak;
}

/**
 * deployCpu deploys like `deploy` and answers the CPU time it cost: the CLI's own (from its rusage)
 * plus what the agent and master spent meanwhile. On a machine shared with other work, CPU time is
 * steadier than wall time; tar's is measured the same way.
 */
async function deployCpu(c: Cluster, dir: string, site: string, cacheDir: string, sync = true): Promise<{ seconds: number; cpu: number; out: any; cliRssMb: number }> {
  const pids = [c.nodes[0]!.p.proc.pid, c.masterProc.proc.pid];
  const before = pids.map(cpuMs);
  const t0 = performance.now();
  const p = Bun.spawn([sproutBinary(), "deploy", dir, "--site", site, "--prod", "--json"], {
    env: { ...process.env, SPROUT_MASTER: c.master, SPROUT_TOKEN: c.admin.token, SPROUT_CONFIG_DIR: join(c.home, "cli-config"), SPROUT_CACHE_DIR: cacheDir, SPROUT_LOG: "" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if ((await p.exited) !== 0) throw new Error(`${out}\n${err}`);
  if (sync) sh("sync");
  const seconds = (performance.now() - t0) / 1000;
  const ru = p.resourceUsage()!;
  const cli = Number(ru.cpuTime.user + ru.cpuTime.system) / 1000;
  return { seconds, cpu: (cli + pids.map(cpuMs).reduce((n, x, i) => n + x - before[i]!, 0)) / 1000, out: JSON.parse(out), cliRssMb: ru.maxRSS / 1024 / 1024 };
}

/** tarCpu copies `src` to `copy` with `tar | tar` and `sync` (or runs `cmd`); answers its wall and CPU seconds. */
function tarCpu(src: string, copy: string, cmd = `tar -C ${src} -cf - . | tar -C ${copy} -xf - && sync`): { seconds: number; cpu: number } {
  const t0 = performance.now();
  const r = Bun.spawnSync(["bash", "-c", cmd]);
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  const ru = r.resourceUsage!;
  return { seconds: (performance.now() - t0) / 1000, cpu: Number(ru.cpuTime.user + ru.cpuTime.system) / 1e6 };
}

/**
 * coldRuns alternates `tar | tar` copies and cold deploys of fresh sites of `files` files / `bytes`.
 * Each copy and each deploy starts once the node is idle: a deploy's compressed forms are made
 * after it is live (on a low-priority thread), and the next measurement, ours or tar's, must not
 * share the cores with them. How long the node worked on after each deploy is answered too.
 */
async function coldRuns(c: Cluster, work: string, label: string, files: number, bytes: number, rss?: { pid: number; peaks: number[] }) {
  const tar: number[] = [];
  const ours: number[] = [];
  const tarCpuS: number[] = [];
  const oursCpu: number[] = [];
  const after: number[] = [];
  const agentPid = c.nodes[0]!.p.proc.pid;
  for (let r = 0; r < RUNS; r++) {
    const src = join(work, `${label}${r}`);
    mkdirSync(src);
    makeSite(src, files, bytes, r + (label === "tiny" ? 100 : 0));
    const copy = join(work, `${label}-copy${r}`);
    mkdirSync(copy);
    sh("sync");
    await settle(agentPid);
    const t = tarCpu(src, copy);
    tar.push(t.seconds);
    tarCpuS.push(t.cpu);
    sh("sync");
    const go = () => deployCpu(c, src, `${label}${r}`, join(work, `cache-${label}${r}`));
    let d = { seconds: 0, cpu: 0 };
    if (rss) rss.peaks.push(await peakRss(rss.pid, async () => (d = await go())));
    else d = await go();
    ours.push(d.seconds);
    oursCpu.push(d.cpu);
    after.push(await settle(agentPid));
  }
  return { tar, ours, tarCpu: tarCpuS, oursCpu, after };
}

/** firstRequestMs: from spawning `cmd` to its first HTTP request reaching a local server. */
async function firstRequestMs(cmd: string[], env: Record<string, string>, runs = 7): Promise<number[]> {
  let t0 = 0;
  let hit: () => void = () => {};
  const seen: number[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch() {
      seen.push(performance.now() - t0);
      hit();
      return Response.json([]);
    },
  });
  try {
    for (let i = 0; i < runs; i++) {
      const got = new Promise<void>((r) => (hit = r));
      t0 = performance.now();
      const p = Bun.spawn(cmd.map((x) => x.replace("URL", `http://127.0.0.1:${server.port}`)), { env: { ...process.env, ...env, SPROUT_MASTER: `http://127.0.0.1:${server.port}` }, stdout: "ignore", stderr: "ignore" });
      await got;
      await p.exited;
    }
  } finally {
    server.stop(true);
  }
  return seen.map((x) => x / 1000);
}

export async function deployScenarios(c: Cluster, work: string) {
  const agentPid = c.nodes[0]!.p.proc.pid;
  console.error(`== cold deploy: 5,000 files, ~100 MB (${RUNS} runs, alternating with tar | tar)`);
  const rss = { pid: agentPid, peaks: [] as number[] };
  const cold = await coldRuns(c, work, "cold", 5000, 100 * 1024 * 1024, rss);
  row("cold deploy 5,000 files / 100 MB (min / median)", spread(cold.ours), `tar|tar ${spread(cold.tar)}`, ratios(cold.ours, cold.tar), "<= 2x");
  row("  its CPU time: CLI + agent + master", spread(cold.oursCpu), `tar|tar ${spread(cold.tarCpu)}`, ratios(cold.oursCpu, cold.tarCpu));
  row("  compressed forms made after it was live (node busy, min / median)", spread(cold.after.map((ms) => ms / 1000)));
  row("agent peak RSS during a 100 MB cold deploy", `${min(rss.peaks).toFixed(0)} / ${Math.max(...rss.peaks).toFixed(0)} MB (min / max)`, "", "", "< 150 MB");

  console.error(`== cold deploy: 5,000 tiny files, ~5 MB (${RUNS} runs, alternating with tar | tar)`);
  const tiny = await coldRuns(c, work, "tiny", 5000, 5 * 1024 * 1024);
  row("cold deploy 5,000 tiny files / 5 MB (min / median)", spread(tiny.ours), `tar|tar ${spread(tiny.tar)}`, ratios(tiny.ours, tiny.tar), "<= 2x");
  row("  its CPU time: CLI + agent + master", spread(tiny.oursCpu), `tar|tar ${spread(tiny.tarCpu)}`, ratios(tiny.oursCpu, tiny.tarCpu));
  row("  compressed forms made after it was live (node busy, min / median)", spread(tiny.after.map((ms) => ms / 1000)));

  console.error("== a 2 GB site (20 files of 100 MB), once, against tar | tar");
  const big = join(work, "big");
  mkdirSync(big);
  const block = Buffer.alloc(100_000_000);
  for (let i = 0; i < 20; i++) {
    block.fill(`big file ${i} `);
    writeFileSync(join(big, `part${i}.bin`), block);
  }
  const bigCopy = join(work, "big-copy");
  mkdirSync(bigCopy);
  sh("sync");
  await settle(agentPid);
  const bigTar = tarCpu(big, bigCopy);
  sh(`rm -rf ${bigCopy}`);
  await settle(agentPid);
  let bigRun = { seconds: 0, cpu: 0, out: null as any, cliRssMb: 0 };
  const bigAgent = await peakRss(agentPid, async () => (bigRun = await deployCpu(c, big, "big", join(work, "cache-big"))));
  row("deploy of a 2 GB site (20 files of 100 MB)", `${bigRun.seconds.toFixed(1)} s`, `tar|tar ${bigTar.seconds.toFixed(1)} s`, (bigRun.seconds / bigTar.seconds).toFixed(1), "works, bounded memory");
  row("  peak RSS during it: CLI / agent", `${bigRun.cliRssMb.toFixed(0)} / ${bigAgent.toFixed(0)} MB`);
  sh(`rm -rf ${big}`);

  console.error(`== redeploy: 10,000 files, one changed (${RUNS} runs, alternating with rsync of the same change)`);
  const many = join(work, "many");
  mkdirSync(many);
  makeSite(many, 10_000, 40 * 1024 * 1024, 7);
  const cache = join(work, "cache-many");
  await deploy(c, many, "many", cache);
  const mirror = join(work, "many-mirror");
  sh(`rsync -a ${many}/ ${mirror}/ && sync`);
  // The redeploys are timed once the node has precompressed the first deploy (as rsync's baseline
  // has no such work beside it); how long that took is printed.
  const settled = await settle(agentPid);
  row("  background precompression of the 10,000-file deploy (agent busy after it was live)", `${(settled / 1000).toFixed(0)} s`);
  const rsync: number[] = [];
  const ours: number[] = [];
  const agentCpu: number[] = [];
  const rsyncCpu: number[] = [];
  const oursCpu: number[] = [];
  let stagedLine = "";
  for (let r = 0; r < RUNS; r++) {
    writeFileSync(join(many, "index.html"), `<!doctype html><title>changed ${r}</title>`);
    const rs = tarCpu(many, mirror, `rsync -a ${many}/ ${mirror}/ && sync`);
    rsync.push(rs.seconds);
    rsyncCpu.push(rs.cpu);
    const cpu0 = cpuMs(agentPid);
    // Timed as before (the deploy until live, without a trailing sync), with its CPU time beside it.
    const run = await deployCpu(c, many, "many", cache, false);
    const d = run.out;
    ours.push(run.seconds);
    oursCpu.push(run.cpu);
    agentCpu.push(cpuMs(agentPid) - cpu0);
    if (d.files_uploaded !== 1) throw new Error(`redeploy uploaded ${d.files_uploaded} files, not 1`);
    const events = (await api(c.master, "GET", `/api/deployment/${d.deployment_id}`, undefined, c.admin.token)).body.events;
    stagedLine = events.map((e: any) => e.message).find((m: string) => m.startsWith("Staged ")) ?? "";
  }
  row("redeploy 10,000 files, 1 changed (min / median)", spread(ours), `rsync ${spread(rsync)}`, ratios(ours, rsync), "<= 3x");
  row("  its CPU time: CLI + agent + master", spread(oursCpu), `rsync ${spread(rsyncCpu)}`, ratios(oursCpu, rsyncCpu));
  row("  node's CPU per one-file redeploy", `${min(agentCpu)} / ${med(agentCpu)} ms`, "", "", "O(change)");
  row("  node's staging of it", stagedLine.replace(/^Staged /, "").slice(0, 70));

  console.error("== rollback (activation)");
  const samples: number[] = [];
  const agentMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = await c.sprout(["rollback", "--site", "many"]);
    if (r.code !== 0) throw new Error(r.stderr);
    samples.push((performance.now() - t0) / 1000);
    const target = (await api(c.master, "GET", "/api/site/many", undefined, c.admin.token)).body.production_deployment_id;
    const events = (await api(c.master, "GET", `/api/deployment/${target}`, undefined, c.admin.token)).body.events;
    const act = [...events].reverse().find((e: any) => /^Activated in/.test(e.message));
    agentMs.push(Number(/([\d.]+) ms/.exec(act.message)![1]));
  }
  row("activation on the node (symlink swap)", `${med(agentMs).toFixed(2)} ms median`, "", "", "< 50 ms");
  row("rollback round trip (CLI -> master -> agent -> live)", spread(samples, "ms"));

  console.error("== CLI start to its first request");
  const bin = sproutBinary();
  const cli = await firstRequestMs([bin, "sites", "--json"], { SPROUT_TOKEN: "bench", SPROUT_CONFIG_DIR: join(work, "cli-first") });
  const curl = await firstRequestMs(["curl", "-s", "-o", "/dev/null", "URL/api/sites"], {});
  row("CLI start to first request (min / median)", spread(cli, "ms"), `curl ${spread(curl, "ms")}`, ratios(cli, curl), "< 100 ms");

  console.error("== Uploads.init at 5,000 / 10,000 / 20,000 files (linear, not quadratic)");
  const perK: string[] = [];
  for (const n of [5000, 10_000, 20_000]) {
    const manifest = Array.from({ length: n }, (_, i) => ({ path: `f/${String(i).padStart(6, "0")}.txt`, sha256: new Bun.CryptoHasher("sha256").update(`init ${n} ${i}`).digest("hex"), size: 10 }));
    const created = await api(c.master, "POST", "/api/deployment", { site: `init${n}`, production: false, manifest }, c.admin.token);
    if (created.status !== 201 && created.status !== 200) throw new Error(`create: ${JSON.stringify(created.body)}`);
    const { agent_url, grant } = created.body.upload;
    const s = await time(async () => {
      const r = await api(agent_url, "POST", "/api/upload/init", { grant, deployment_id: created.body.deployment.id, manifest });
      if (r.status !== 200) throw new Error(`init: ${JSON.stringify(r.body)}`);
    });
    perK.push(`${n / 1000}k: ${(s * 1000).toFixed(0)} ms (${((s * 1000 * 1000) / n).toFixed(2)} ms/1k)`);
  }
  row("Uploads.init", perK.join(", "), "", "", "linear");

  console.error("== master storage of manifests");
  const db = new Database(join(c.home, "master", "sprout.db"), { readonly: true });
  const site = "(SELECT id FROM sites WHERE name = 'many')";
  const m = db
    .query<{ n: number; refs: number; bytes: number; entries: number; files: number }, []>(
      `SELECT (SELECT count(*) FROM deployments WHERE site_id = ${site}) AS n,
              (SELECT count(*) FROM deployment_chunks WHERE deployment_id IN (SELECT id FROM deployments WHERE site_id = ${site})) AS refs,
              sum(length(CAST(entries AS BLOB))) AS bytes, sum(files) AS entries,
              (SELECT sum(files_total) FROM deployments WHERE site_id = ${site}) AS files
       FROM manifest_chunks WHERE digest IN (SELECT digest FROM deployment_chunks WHERE deployment_id IN (SELECT id FROM deployments WHERE site_id = ${site}))`,
    )
    .get()!;
  db.close();
  row(
    "master manifest storage, site 'many' (10k files)",
    `${(m.bytes / 1024 / 1024).toFixed(2)} MB, ${m.entries} entries for ${m.n} deployments (${m.refs} chunk refs)`,
    `${m.files} entries as rows`,
    (m.entries / m.files).toFixed(2),
    "O(distinct files)",
  );

  console.error("== GET /api/sites with 10,000 sites");
  await sitesList(c);
}

/** sitesList adds 10,000 sites to the admin's account (straight into the master's database) and measures GET /api/sites. */
async function sitesList(c: Cluster) {
  const me = JSON.parse(Buffer.from(c.admin.token.split(".")[1]!, "base64url").toString()).sub as string;
  const db = new Database(join(c.home, "master", "sprout.db"));
  db.exec("PRAGMA busy_timeout = 10000");
  const insert = db.prepare("INSERT OR IGNORE INTO sites (id, name, owner_id, settings, generation, replicas, created_at) VALUES (?, ?, ?, '{\"spa\":false}', 0, 1, ?)");
  db.transaction(() => {
    for (let i = 0; i < 10_000; i++) insert.run(`bench${String(i).padStart(10, "0")}`, `many-sites-${i}`, me, new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString());
  })();
  db.close();
  const auth = `-H 'Authorization: Bearer ${c.admin.token}'`;
  const rps = (path: string, withAuth = true) => {
    const out = sh(`wrk -t2 -c32 -d3s ${withAuth ? auth : ""} '${c.master}${path}'`);
    return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) };
  };
  const health = rps("/healthz", false);
  const page = rps("/api/sites");
  const one = rps("/api/site/many");
  let pages = 0;
  const all = await time(async () => {
    let cursor: string | null = null;
    do {
      const r: Response = await fetch(`${c.master}/api/sites?limit=1000${cursor ? `&cursor=${cursor}` : ""}`, { headers: { authorization: `Bearer ${c.admin.token}` } });
      await r.arrayBuffer();
      cursor = r.headers.get("x-next-cursor");
      pages++;
    } while (cursor);
  });
  row("GET /api/sites, 10,000+ sites (first page of 100)", `${page.rps.toFixed(0)} req/s (${page.errors} errors)`, `/healthz ${health.rps.toFixed(0)} req/s`, (page.rps / health.rps).toFixed(3), ">= 1,000 req/s");
  row("GET /api/site/:name", `${one.rps.toFixed(0)} req/s (${one.errors} errors)`);
  row("all 10,000+ sites in pages of 1,000", `${(all * 1000).toFixed(0)} ms (${pages} pages)`);
}
