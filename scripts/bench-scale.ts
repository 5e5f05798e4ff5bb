// scripts/bench-scale: one node with 10,000 sites, 2,000 of them with 50 `_redirects` rules and 10
// `_headers` blocks each, against the same node with one site (issue: flat cost per request at
// 10,000 sites). Real nginx with the agent's own configuration and code (renderNginxConf,
// renderSiteInclude, NginxShards: the main nginx and the shards serving rules sites): the sites'
// trees and rules are written straight to a data folder, as staging would leave them, because
// 10,000 deploys through the CLI would take hours. What it measures:
// - requests/s and p99 latency of a plain site and a rules site on both nodes, alternated;
// - the nginx part of a rules deploy, as the agent does it (NginxShards.install: the include
//   checked alone with `nginx -t`, its shard reloaded and awaited until new workers serve), for the
//   first and the last 100 rules sites added (a site's first rules also reload the main nginx) and
//   for rules changed on sites that had rules already, at the start and at the end;
// - reloads of a shard and of the main nginx with all 2,000 rules sites, and memory per process.
// Takes 10-20 minutes on two cores. `bun scripts/bench.ts --only scale` runs it alone.
import { chmodSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nginxLayout, renderNginxConf, renderShardConf, shardLayout } from "../src/agent/nginx/config";
import { NginxProcess } from "../src/agent/nginx/process";
import { NginxShards } from "../src/agent/nginx/shards";
import { DEFAULT_SITES_PER_SHARD } from "../src/agent/config";
import { renderSiteInclude } from "../src/agent/nginx/site-include";
import { childPids, freePort, tempDir } from "../test/helpers/cluster";

type Row = (name: string, value: string, baseline?: string, ratio?: string, target?: string) => void;

/** benchRules: a realistic rules site: 50 redirects (literal, splat, placeholder, rewrite, 404) and 10 header blocks. */
export function benchRules(i: number): { redirects: string; headers: string } {
  const r: string[] = [];
  for (let k = 0; k < 30; k++) r.push(`/old-page-${k} /new-page-${k} 301`);
  for (let k = 0; k < 10; k++) r.push(`/blog/${k}/* /posts/${k}/:splat 301`);
  for (let k = 0; k < 5; k++) r.push(`/p${k}/:id /items/${k}/:id 301`);
  for (let k = 0; k < 3; k++) r.push(`/app${k}/* /index.html 200`);
  // One site in ten matches on a query parameter.
  r.push(i % 10 === 0 ? "/search q=:q /find/:q 302" : "/search /find 302");
  r.push("/gone /404.html 404");
  let h = "/*\n  X-Frame-Options: DENY\n  X-Content-Type-Options: nosniff\n/assets/*\n  Cache-Control: public, max-age=31536000, immutable\n/blog/*\n  X-Robots-Tag: noindex\n";
  for (let k = 0; k < 6; k++) h += `/section${k}/*\n  X-Section: ${k}\n`;
  // One site in ten protects a folder with Basic-Auth.
  h += i % 10 === 0 ? "/admin/*\n  Basic-Auth: admin:$6$benchsalt$QvPVEKjJ0fDm6dvqkXzS8dKwL3R7PvAo5uKn1Nf5W4u\n" : "/about\n  X-About: yes\n";
  return { redirects: r.join("\n"), headers: h };
}

export function sh(cmd: string) {
  const r = Bun.spawnSync(["bash", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/**
 * wrk answers requests/s, p99 latency in ms and non-2xx/3xx answers for one host and path. With
 * `cpu`, wrk runs on that core alone (one thread), as the other side of pinTree.
 */
export function wrk(port: number, host: string, path: string, cpu?: number) {
  const run = cpu === undefined ? "wrk -t2 -c32" : `taskset -c ${cpu} wrk -t1 -c16`;
  const out = sh(`${run} -d3s --latency -H 'Host: ${host}' http://127.0.0.1:${port}${path}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const ms = p99 ? Number(p99[1]) * (p99[2] === "us" ? 0.001 : p99[2] === "s" ? 1000 : 1) : NaN;
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p99: ms, errors };
}

/**
 * pinTree keeps a process and its children (nginx and its workers) on one core: the two cores of a
 * small machine shared by nginx and wrk make one run of wrk move by +-15%; one core each, by a few %.
 */
export function pinTree(pid: number, cpu: number) {
  for (const p of [pid, ...childPids(pid)]) sh(`taskset -p -c ${cpu} ${p} >/dev/null`);
}

/** makeTemplate writes the files every bench site serves (hard-linked into each site's tree). */
export function makeTemplate(work: string): string {
  const template = join(work, "template");
  for (const d of ["assets", "blog"]) mkdirSync(join(template, d), { recursive: true });
  writeFileSync(join(template, "index.html"), `<!doctype html><title>scale</title>${"<p>Lorem ipsum dolor sit amet.</p>".repeat(60)}`);
  writeFileSync(join(template, "404.html"), "<!doctype html><title>Not found</title>");
  writeFileSync(join(template, "about.html"), "<!doctype html><title>About</title>");
  writeFileSync(join(template, "blog/post.html"), "<!doctype html><title>Post</title>");
  writeFileSync(join(template, "assets/app.js"), "console.log('scale');\n".repeat(200));
  writeFileSync(join(template, "assets/app.js.gz"), Bun.gzipSync(readFileSync(join(template, "assets/app.js"))));
  return template;
}

/** linkTree makes <data>/sites/<site>/deploys/d1 of hard links to the template, and `current`. */
export function linkTree(data: string, template: string, site: string) {
  const dep = join(data, "sites", site, "deploys", "d1");
  for (const d of ["", "assets", "blog"]) mkdirSync(join(dep, d), { recursive: true });
  for (const f of ["index.html", "404.html", "about.html", "assets/app.js", "assets/app.js.gz", "blog/post.html"]) linkSync(join(template, f), join(dep, f));
  symlinkSync("deploys/d1", join(data, "sites", site, "current"));
}

export const pssMb = (pid: number) => Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0) / 1024;
export const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const children = childPids;

/** A Node is one data folder with the agent's nginx configuration, its nginx, its shards and its sites. */
export class Node {
  readonly nginx;
  readonly shards;
  readonly port = freePort();
  constructor(readonly data: string, private template: string, private opts: { perShard?: number; jit?: boolean } = {}) {
    const bin = Bun.which("nginx") ?? "/usr/sbin/nginx";
    const base = { dataDir: data, domain: "bench.test", workerUser: null };
    this.nginx = new NginxProcess(bin, nginxLayout(data));
    this.shards = new NginxShards(bin, data, this.nginx, `127.0.0.1:${this.port}`, opts.perShard ?? DEFAULT_SITES_PER_SHARD, (n) => renderShardConf({ ...base, shard: n }), async () => {
      if (this.nginx.writeConf(this.mainConf())) await this.nginx.reload();
    });
    mkdirSync(join(data, "sites"), { recursive: true });
    mkdirSync(join(data, "nginx", "auth"), { recursive: true });
    this.nginx.writeConf(this.mainConf());
  }
  mainConf() {
    return renderNginxConf({ dataDir: this.data, listen: `127.0.0.1:${this.port}`, domain: "bench.test", workerUser: null, shards: this.shards.routes, pcreJit: this.opts.jit });
  }
  /** addTree makes sites/<site>/deploys/d1 of hard links to the template, and `current`. */
  addTree(site: string) {
    linkTree(this.data, this.template, site);
  }
  /** render is a rules site's include (`variant` changes one rule, as a redeploy with new rules would). */
  render(site: string, i: number, variant = 0) {
    const rules = benchRules(i);
    if (variant) rules.redirects += `\n/variant-${variant} /about 301`;
    const r = renderSiteInclude({ site, domain: "bench.test", listen: this.shards.listenOf(site), sitesDir: join(this.data, "sites"), filesDir: join(this.data, "nginx", "auth"), secret: new Uint8Array(8), production: { id: "d1", rules: { ...rules, spa: false } }, deployments: [{ id: "d1", rules: { ...rules, spa: false } }] });
    for (const f of r.files) writeFileSync(f.path, f.content, { mode: 0o644 });
    return r.text!;
  }
  /** startOneSite makes the node with one site: a plain site and a rules site (its one site either way), served. */
  async startOneSite() {
    this.addTree("plain0");
    this.addTree("rules0");
    this.nginx.start();
    await this.nginx.ready();
    await this.install("rules0", 0);
  }
  /** install puts a rules site's include in place as a deploy does, and answers in ms once served. */
  async install(site: string, i: number, variant = 0) {
    const text = this.render(site, i, variant);
    const t0 = performance.now();
    await this.shards.install(site, text);
    return performance.now() - t0;
  }
  /** write puts a rules site's include in its shard's folder without nginx (bulk set-up; see settle). */
  write(site: string, i: number) {
    const n = this.shards.shardOf(site);
    const dir = (n === 0 ? nginxLayout(this.data) : shardLayout(this.data, n)).sitesDir;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${site}.conf`), this.render(site, i));
    this.shards.routes.set(site, n);
  }
  /** settle brings the main nginx and every shard in line with includes written by write(). */
  async settle() {
    this.nginx.writeConf(this.mainConf());
    await Promise.all([this.nginx.reload(), this.shards.reloadAll()]);
  }
  async stop() {
    await Promise.all([this.nginx.stop(), this.shards.stop()]);
  }
}

export async function benchScale(row: Row, o: { sites?: number; rulesSites?: number; deploys?: number; perShard?: number; jit?: boolean; say?: (l: string) => void } = {}) {
  const sites = o.sites ?? 10_000;
  const rulesSites = o.rulesSites ?? 2_000;
  // How many rules deploys are timed at the start and at the end (each waits for a reload).
  const n = Math.min(o.deploys ?? 100, Math.floor(rulesSites / 2));
  const say = o.say ?? console.error;
  const work = tempDir("sprout-bench-scale-");
  // nginx's workers (nobody when started as root) read the trees: the folders must let them through.
  chmodSync(work, 0o755);
  const template = makeTemplate(work);

  const one = new Node(join(work, "one"), template, { jit: o.jit });
  const big = new Node(join(work, "big"), template, { perShard: o.perShard, jit: o.jit });
  try {
    await one.startOneSite();

    say(`  building ${sites.toLocaleString()} sites (${rulesSites.toLocaleString()} with rules, at most ${big.shards.perShard} per shard)`);
    for (let i = 0; i < rulesSites; i++) big.addTree(`rules${i}`);
    for (let i = 0; i < sites - rulesSites; i++) big.addTree(`plain${i}`);
    big.nginx.start();
    await big.nginx.ready();
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    const compare = (label: string, first: number[], last: number[]) =>
      row(`${label}, last ${last.length} vs first ${first.length}`, `mean ${mean(last).toFixed(0)} ms, median ${med(last).toFixed(0)} ms`, `first: mean ${mean(first).toFixed(0)} ms, median ${med(first).toFixed(0)} ms`, (mean(last) / mean(first)).toFixed(2), "<= 1.2x (reload < 1 s)");
    // A site's first rules (its shard reloaded, and the main nginx: it now hands the site over), then
    // new rules for sites that had some (their shard only), each awaited until nginx serves them.
    const firstNew: number[] = [];
    for (let i = 0; i < n; i++) firstNew.push(await big.install(`rules${i}`, i));
    const firstRedeploy: number[] = [];
    for (let i = 0; i < n; i++) firstRedeploy.push(await big.install(`rules${i}`, i, 1));
    say(`  first ${n} rules sites added; writing ${rulesSites - 2 * n} more`);
    for (let i = n; i < rulesSites - n; i++) big.write(`rules${i}`, i);
    const bulk = performance.now();
    await big.settle();
    say(`  main nginx and ${big.shards.inUse} shards reloaded with ${rulesSites - n} rules sites: ${(performance.now() - bulk).toFixed(0)} ms`);
    const lastNew: number[] = [];
    for (let i = rulesSites - n; i < rulesSites; i++) lastNew.push(await big.install(`rules${i}`, i));
    const lastRedeploy: number[] = [];
    for (let i = rulesSites - n; i < rulesSites; i++) lastRedeploy.push(await big.install(`rules${i}`, i, 1));
    compare("site's first rules deploy, nginx part (include nginx -t, shard + main reload)", firstNew, lastNew);
    compare("rules redeploy, nginx part (include nginx -t, shard reload)", firstRedeploy, lastRedeploy);
    const inShard = `rules${rulesSites - 1}`;
    const reloads: number[] = [];
    const mains: number[] = [];
    for (let i = 0; i < 3; i++) {
      // Reloads awaited until nginx's new workers run (and the old ones have finished): a rules
      // redeploy of the main nginx's rules0 (it holds 50 rules sites and every plain one), and of
      // the last rules site (a shard's).
      let t0 = performance.now();
      await big.install("rules0", 0, 2 + i);
      mains.push(performance.now() - t0);
      t0 = performance.now();
      await big.install(inShard, rulesSites - 1, 2 + i);
      reloads.push(performance.now() - t0);
    }
    row(`rules redeploy of a shard's site, ${rulesSites.toLocaleString()} rules sites (until new workers serve)`, `${Math.min(...reloads).toFixed(0)} ms best of 3, ${Math.max(...reloads).toFixed(0)} ms worst`, "", "", "< 1 s");
    row(`rules redeploy of a main nginx's site, ${sites.toLocaleString()} sites (main reload until new workers serve)`, `${Math.min(...mains).toFixed(0)} ms best of 3, ${Math.max(...mains).toFixed(0)} ms worst`, "", "", "< 1 s");
    const pid = big.nginx.pid!;
    const shardProcs = Object.values(big.shards.pids()).filter((p): p is number => !!p).flatMap((p) => [p, ...children(p)]);
    const shardRss = shardProcs.map(rssMb);
    const all = [pid, ...children(pid), ...shardProcs];
    row(
      `nginx RSS with ${rulesSites.toLocaleString()} rules sites`,
      `main: master ${rssMb(pid).toFixed(0)} MB, workers ${children(pid).map((x) => rssMb(x).toFixed(0)).join("/")} MB; ${big.shards.inUse} shards: largest process ${Math.max(...shardRss).toFixed(0)} MB`,
      `one site: main master ${rssMb(one.nginx.pid!).toFixed(0)} MB`,
      "",
      "< 500 MB per process",
    );
    // RSS counts pages shared between processes (libraries, a master's pages its worker inherited)
    // in each; PSS shares them out: its sum is the memory all of nginx really takes.
    const onePids = [one.nginx.pid!, ...children(one.nginx.pid!), ...Object.values(one.shards.pids()).filter((p): p is number => !!p).flatMap((p) => [p, ...children(p)])];
    row(`nginx memory, all ${all.length} processes (PSS summed)`, `${all.map(pssMb).reduce((a, b) => a + b, 0).toFixed(0)} MB`, `one site: ${onePids.length} processes, ${onePids.map(pssMb).reduce((a, b) => a + b, 0).toFixed(0)} MB`, "", "");

    // Requests: both nodes alternated three times, each one's best run kept.
    // The big node's rules0 is one of 2,000 rules sites and is served by the main nginx (shard 0, its
    // first 50), as the one-site node's rules0 is; its last rules site is in a shard of its own, behind
    // the main nginx: compared with the one-site node's rules0, that row shows what the hand-over costs.
    for (const [label, host, baseHost, path] of [
      ["plain site, 10 KB HTML", "plain0", "plain0", "/index.html"],
      ["plain site, JS asset (gzip)", "plain0", "plain0", "/assets/app.js"],
      ["rules site (main nginx), JS asset (gzip)", "rules0", "rules0", "/assets/app.js"],
      ["rules site (main nginx), clean URL /about", "rules0", "rules0", "/about"],
      ["rules site (main nginx), a redirect rule", "rules0", "rules0", "/old-page-29"],
      ["rules site in a shard, JS asset (gzip)", inShard, "rules0", "/assets/app.js"],
      ["rules site in a shard, a redirect rule", inShard, "rules0", "/old-page-29"],
    ] as const) {
      let base = { rps: 0, p99: Infinity, errors: 0 };
      let ours = { rps: 0, p99: Infinity, errors: 0 };
      for (let i = 0; i < 3; i++) {
        const b = wrk(one.port, `${baseHost}.bench.test`, path);
        const s = wrk(big.port, `${host}.bench.test`, path);
        if (b.rps > base.rps) base = b;
        if (s.rps > ours.rps) ours = s;
      }
      row(`req/s, ${label}, ${sites.toLocaleString()} sites vs 1`, `${ours.rps.toFixed(0)} (p99 ${ours.p99.toFixed(2)} ms${ours.errors ? `, ${ours.errors} errors` : ""})`, `${base.rps.toFixed(0)} (p99 ${base.p99.toFixed(2)} ms)`, `${(ours.rps / base.rps).toFixed(3)} / p99 ${(ours.p99 / base.p99).toFixed(2)}`, ">= 0.9 / <= 1.2");
    }
  } finally {
    await one.stop();
    await big.stop();
    sh(`rm -rf ${work}`);
  }
}
