// scripts/bench-rules-engine: the rules engine (nginx's Lua module reading each deployment's compiled
// rules per request, src/agent/nginx/lua/sprout.lua) on a node with 10,000 sites, 2,000 of them with
// 50 `_redirects` rules and 10 `_headers` blocks each (benchRules), against the same engine on a node
// with one site, alternated seven times (median and worst ratio). Real nginx with the agent's configuration and code
// (renderNginxConf, renderRulesData, validateRules); trees and compiled rules are written straight to
// a data folder as staging would leave them. What it measures: nginx's start with every site, the
// rules deploy as the agent does it (compile, PCRE check, write, link: nothing reloaded) for the first
// and the last 100 rules sites, that answers equal the include engine's for the same rules, memory
// after serving 1,000 rules sites, and requests/s + p99 of plain and rules sites.
// `bun scripts/bench.ts --only scale` runs it (`--rules-engine nginx`: the include engine's bench).
import { chmodSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nginxLayout, renderNginxConf } from "../src/agent/nginx/config";
import { LUA_MODULES, validateRules } from "../src/agent/nginx/lua-engine";
import { NginxProcess } from "../src/agent/nginx/process";
import { renderRulesData } from "../src/agent/nginx/rules/rules-data";
import { childPids, tempDir, freePort } from "../test/helpers/cluster";
import { benchRules, linkTree, makeTemplate, Node, pinTree, pssMb, rssMb, sh, wrk } from "./bench-scale";

type Wrk = ReturnType<typeof wrk>;

type Row = (name: string, value: string, baseline?: string, ratio?: string, target?: string) => void;
const LUA_DIR = join(import.meta.dir, "..", "src", "agent", "nginx", "lua");

/** LuaNode is one data folder served by nginx with the rules engine. */
export class LuaNode {
  readonly nginx;
  readonly port = freePort();
  private bin = Bun.which("nginx") ?? "/usr/sbin/nginx";
  constructor(readonly data: string, private template: string) {
    this.nginx = new NginxProcess(this.bin, nginxLayout(data));
    mkdirSync(join(data, "sites"), { recursive: true });
    mkdirSync(join(data, "nginx", "auth"), { recursive: true });
    this.nginx.writeConf(renderNginxConf({ dataDir: data, listen: `127.0.0.1:${this.port}`, domain: "bench.test", workerUser: null, lua: { dir: LUA_DIR, modules: LUA_MODULES } }));
  }
  addTree(site: string) {
    linkTree(this.data, this.template, site);
    // Every staged deployment has a link (none: no rules), as the agent gives it.
    mkdirSync(join(this.data, "sites", site, "lua"));
    symlinkSync("none", join(this.data, "sites", site, "lua", "d1"));
  }
  /** deploy does what the agent does for a rules deployment (SiteConfigurator.applyData); answers ms. */
  async deploy(site: string, i: number, variant = 0) {
    const t0 = performance.now();
    const rules = benchRules(i);
    if (variant) rules.redirects += `\n/variant-${variant} /about 301`;
    const r = renderRulesData({ ...rules, spa: false }, { filesDir: join(this.data, "nginx", "auth"), secret: new Uint8Array(8), site });
    for (const f of r.files) writeFileSync(f.path, f.content, { mode: 0o644 });
    const dir = join(this.data, "sites", site, "lua");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${r.name}.new`), r.text, { mode: 0o644 });
    await validateRules(this.bin, nginxLayout(this.data).prefix, LUA_DIR, LUA_MODULES, join(dir, `${r.name}.new`));
    renameSync(join(dir, `${r.name}.new`), join(dir, r.name));
    rmSync(join(dir, "d1.tmp"), { force: true });
    symlinkSync(r.name, join(dir, "d1.tmp"));
    renameSync(join(dir, "d1.tmp"), join(dir, "d1"));
    return performance.now() - t0;
  }
}

function curl(port: number, host: string, path: string, extra = "") {
  return sh(`curl -s -o /dev/null -D - ${extra} -H 'Host: ${host}' 'http://127.0.0.1:${port}${path}' | tr -d '\\r' | grep -iv '^date:\\|^server:\\|^etag:\\|^last-modified:' | sort`);
}

export async function benchScaleLua(row: Row, o: { sites?: number; rulesSites?: number; say?: (l: string) => void } = {}) {
  const sites = o.sites ?? 10_000;
  const rulesSites = o.rulesSites ?? 2_000;
  const say = o.say ?? console.error;
  const work = tempDir("sprout-bench-lua-");
  chmodSync(work, 0o755);
  const template = makeTemplate(work);
  const one = new Node(join(work, "one"), template);
  const oneLua = new LuaNode(join(work, "onelua"), template);
  const big = new LuaNode(join(work, "big"), template);
  try {
    await one.startOneSite();
    oneLua.addTree("plain0");
    oneLua.addTree("rules0");
    await oneLua.deploy("rules0", 0);
    oneLua.nginx.start();
    await oneLua.nginx.ready();
    for (let i = 0; i < rulesSites; i++) big.addTree(`rules${i}`);
    for (let i = 0; i < sites - rulesSites; i++) big.addTree(`plain${i}`);
    say(`  writing ${rulesSites.toLocaleString()} rules sites' compiled rules (as the agent does)`);
    const times: number[] = [];
    for (let i = 0; i < rulesSites; i++) times.push(await big.deploy(`rules${i}`, i));
    const t0 = performance.now();
    big.nginx.start();
    await big.nginx.ready();
    row(`nginx start with ${sites.toLocaleString()} sites, ${rulesSites.toLocaleString()} with rules (until workers run)`, `${(performance.now() - t0).toFixed(0)} ms`, "", "", "(was 6.5 s+ as includes)");
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    // Redeploys of rules sites at the end, nginx serving everything (their rules change: a new file each).
    const lastRedeploy: number[] = [];
    for (let i = rulesSites - 100; i < rulesSites; i++) lastRedeploy.push(await big.deploy(`rules${i}`, i, 1));
    const first = times.slice(0, 100);
    row(
      "rules deploy (compile, PCRE check, write, link; no reload): last 100 vs first 100",
      `mean ${mean(lastRedeploy).toFixed(0)} ms, median ${med(lastRedeploy).toFixed(0)} ms`,
      `first: mean ${mean(first).toFixed(0)} ms, median ${med(first).toFixed(0)} ms`,
      (mean(lastRedeploy) / mean(first)).toFixed(2),
      "<= 1.2x, no reload",
    );
    row("nginx reloads for all of the above", String(big.nginx.reloads), "", "", "0");
    // The same answers as the include engine gives for the same rules (the one-site node).
    const probes: [string, string][] = [["/old-page-3", ""], ["/blog/4/a/b?x=1", ""], ["/p2/abc", ""], ["/app1/x", ""], ["/gone", ""], ["/assets/app.js", "--compressed"], ["/about", ""], ["/section3/x", ""], ["/search?q=hello", ""], ["/admin/", ""], ["/nothing", ""]];
    let same = 0;
    for (const [path, extra] of probes) {
      const a = curl(one.port, "rules0.bench.test", path, extra);
      const b = curl(big.port, "rules0.bench.test", path, extra);
      if (a === b) same++;
      else say(`  DIFFERS ${path}\n--- include engine\n${a}\n--- rules engine\n${b}`);
    }
    row("same answers as the include engine (status, headers)", `${same} of ${probes.length} requests`, "", "", "all");
    // Memory once the workers hold 1,000 rules sites' rules and regexes.
    for (let i = 0; i < Math.min(1000, rulesSites); i++) sh(`curl -s -o /dev/null -H 'Host: rules${i}.bench.test' http://127.0.0.1:${big.port}/old-page-29 -H 'Host: rules${i}.bench.test' http://127.0.0.1:${big.port}/assets/app.js`);
    const pid = big.nginx.pid!;
    const procs = [pid, ...childPids(pid)];
    row(
      `nginx memory with ${sites.toLocaleString()} sites, after serving ${Math.min(1000, rulesSites).toLocaleString()} rules sites`,
      `largest process ${Math.max(...procs.map(rssMb)).toFixed(0)} MB RSS; ${procs.length} processes ${procs.map(pssMb).reduce((x, y) => x + y, 0).toFixed(0)} MB PSS`,
      `one site: ${Math.max(...[oneLua.nginx.pid!, ...childPids(oneLua.nginx.pid!)].map(rssMb)).toFixed(0)} MB`,
      "",
      "< 500 MB per process",
    );
    // Requests: the big node and the one-site node (same engine, the same site's rules: rules0),
    // alternated ROUNDS times; each round's ratio is kept and the median and the worst reported.
    // The one-site node on the include engine is shown beside.
    const ROUNDS = 7;
    // nginx on one core, wrk on the other, for all three nodes alike (see pinTree).
    for (const n of [one.nginx, oneLua.nginx, big.nginx]) pinTree(n.pid!, 1);
    for (const [label, site, path] of [
      ["plain site, 10 KB HTML", "plain0", "/index.html"],
      ["plain site, JS asset (gzip)", "plain0", "/assets/app.js"],
      ["rules site, JS asset (gzip)", "rules0", "/assets/app.js"],
      ["rules site, clean URL /about", "rules0", "/about"],
      ["rules site, a redirect rule", "rules0", "/old-page-29"],
    ] as const) {
      const host = `${site}.bench.test`;
      const rounds: { inc: Wrk; base: Wrk; ours: Wrk }[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        // The order turns each round so neither node always runs first.
        const r = i % 2 ? { ours: wrk(big.port, host, path, 0), base: wrk(oneLua.port, host, path, 0) } : { base: wrk(oneLua.port, host, path, 0), ours: wrk(big.port, host, path, 0) };
        rounds.push({ ...r, inc: wrk(one.port, host, path, 0) });
      }
      const rps = rounds.map((r) => r.ours.rps / r.base.rps);
      const p99 = rounds.map((r) => r.ours.p99 / r.base.p99);
      const errors = rounds.reduce((n, r) => n + r.ours.errors, 0);
      row(
        `req/s, ${label}, ${sites.toLocaleString()} sites vs 1 (median / worst of ${ROUNDS})`,
        `${med(rounds.map((r) => r.ours.rps)).toFixed(0)} (p99 ${med(rounds.map((r) => r.ours.p99)).toFixed(2)} ms${errors ? `, ${errors} errors` : ""})`,
        `${med(rounds.map((r) => r.base.rps)).toFixed(0)} (p99 ${med(rounds.map((r) => r.base.p99)).toFixed(2)} ms); include engine: ${med(rounds.map((r) => r.inc.rps)).toFixed(0)}`,
        `${med(rps).toFixed(2)}/${Math.min(...rps).toFixed(2)} p99 ${med(p99).toFixed(2)}/${Math.max(...p99).toFixed(2)}`,
        ">= 0.9 / <= 1.2",
      );
    }
  } finally {
    await one.stop();
    await oneLua.nginx.stop();
    await big.nginx.stop();
    sh(`rm -rf ${work}`);
  }
}
