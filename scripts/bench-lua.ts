// PROTOTYPE bench: the Lua rules engine (src/agent/nginx/lua/sprout.lua) on a node with 10,000
// sites, 2,000 of them with the bench's rules, against the node with one site served by today's
// compiled includes, and against a one-site node on the Lua engine. `bun scripts/bench-lua.ts [sites] [rulesSites]`.
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nginxLayout, renderNginxConf } from "../src/agent/nginx/config";
import { NginxProcess } from "../src/agent/nginx/process";
import { renderRulesData } from "../src/agent/nginx/rules/rules-data";
import { childPids, tempDir, freePort } from "../test/helpers/cluster";
import { benchRules, Node, sh, wrk } from "./bench-scale";

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

class LuaNode {
  readonly nginx;
  readonly port = freePort();
  constructor(readonly data: string, private template: string, luaDir: string) {
    const bin = Bun.which("nginx") ?? "/usr/sbin/nginx";
    this.nginx = new NginxProcess(bin, nginxLayout(data));
    mkdirSync(join(data, "sites"), { recursive: true });
    mkdirSync(join(data, "nginx", "auth"), { recursive: true });
    this.nginx.writeConf(renderNginxConf({ dataDir: data, listen: `127.0.0.1:${this.port}`, domain: "bench.test", workerUser: null, lua: { dir: luaDir, modules: ["/usr/lib/nginx/modules/ndk_http_module.so", "/usr/lib/nginx/modules/ngx_http_lua_module.so"] } }));
  }
  addTree(site: string) {
    const dep = join(this.data, "sites", site, "deploys", "d1");
    for (const d of ["", "assets", "blog"]) mkdirSync(join(dep, d), { recursive: true });
    for (const f of ["index.html", "404.html", "about.html", "assets/app.js", "assets/app.js.gz", "blog/post.html"]) linkSync(join(this.template, f), join(dep, f));
    symlinkSync("deploys/d1", join(this.data, "sites", site, "current"));
  }
  /** deploy writes a rules site's data as a deploy would (no reload); answers ms. */
  deploy(site: string, i: number, variant = 0) {
    const t0 = performance.now();
    const rules = benchRules(i);
    if (variant) rules.redirects += `\n/variant-${variant} /about 301`;
    const r = renderRulesData({ ...rules, spa: false }, { filesDir: join(this.data, "nginx", "auth"), secret: new Uint8Array(8), prefix: `sprout_${site}` });
    for (const f of r.files) writeFileSync(f.path, f.content, { mode: 0o644 });
    const dir = join(this.data, "sites", site, "rules");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, r.name), r.text);
    rmSync(join(dir, "d1.new"), { force: true });
    symlinkSync(r.name, join(dir, "d1.new"));
    renameSync(join(dir, "d1.new"), join(dir, "d1"));
    return performance.now() - t0;
  }
}

function curl(port: number, host: string, path: string, extra = "") {
  return sh(`curl -s -o /dev/null -D - ${extra} -H 'Host: ${host}' 'http://127.0.0.1:${port}${path}' | tr -d '\\r' | grep -iv '^date:\\|^server:\\|^etag:\\|^last-modified:' | sort`);
}

const sites = Number(process.argv[2] ?? 10_000);
const rulesSites = Number(process.argv[3] ?? 2_000);
const work = tempDir("sprout-bench-lua-");
chmodSync(work, 0o755);
const template = join(work, "template");
for (const d of ["assets", "blog"]) mkdirSync(join(template, d), { recursive: true });
writeFileSync(join(template, "index.html"), `<!doctype html><title>scale</title>${"<p>Lorem ipsum dolor sit amet.</p>".repeat(60)}`);
writeFileSync(join(template, "404.html"), "<!doctype html><title>Not found</title>");
writeFileSync(join(template, "about.html"), "<!doctype html><title>About</title>");
writeFileSync(join(template, "blog/post.html"), "<!doctype html><title>Post</title>");
writeFileSync(join(template, "assets/app.js"), "console.log('scale');\n".repeat(200));
writeFileSync(join(template, "assets/app.js.gz"), Bun.gzipSync(readFileSync(join(template, "assets/app.js"))));
const luaDir = join(import.meta.dir, "..", "src", "agent", "nginx", "lua");
const one = new Node(join(work, "one"), template);
const oneLua = new LuaNode(join(work, "onelua"), template, luaDir);
const big = new LuaNode(join(work, "big"), template, luaDir);
const row = (...a: string[]) => console.log(a.join(" | "));
try {
  one.addTree("plain0");
  one.addTree("rules0");
  one.nginx.start();
  await one.nginx.ready();
  await one.install("rules0", 0);
  oneLua.addTree("plain0");
  oneLua.addTree("rules0");
  oneLua.deploy("rules0", 0);
  oneLua.nginx.start();
  await oneLua.nginx.ready();
  for (let i = 0; i < rulesSites; i++) big.addTree(`rules${i}`);
  for (let i = 0; i < sites - rulesSites; i++) big.addTree(`plain${i}`);
  const times: number[] = [];
  for (let i = 0; i < rulesSites; i++) times.push(big.deploy(`rules${i}`, i));
  const t0 = performance.now();
  big.nginx.start();
  await big.nginx.ready();
  row(`nginx start with ${sites} sites (${rulesSites} with rules)`, `${(performance.now() - t0).toFixed(0)} ms`);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  row("rules deploy (render + write data, no reload): first 100 / last 100", `${mean(times.slice(0, 100)).toFixed(2)} ms / ${mean(times.slice(-100)).toFixed(2)} ms`);
  // Same answers as the compiled engine (one-site node) for the same rules.
  const last = `rules${rulesSites - 1}`;
  const probes: [string, string][] = [["/old-page-3", ""], ["/blog/4/a/b?x=1", ""], ["/p2/abc", ""], ["/app1/x", ""], ["/gone", ""], ["/assets/app.js", "--compressed"], ["/about", ""], ["/section3/x", ""], ["/search?q=hello", ""], ["/admin/", ""], ["/nothing", ""]];
  let same = 0;
  for (const [path, extra] of probes) {
    const a = curl(one.port, "rules0.bench.test", path, extra);
    const b = curl(big.port, `rules${rulesSites - rulesSites % 10}.bench.test`.replace(`rules${rulesSites}`, "rules0"), path, extra);
    if (a === b) same++;
    else console.log(`DIFFERS ${path}\n--- compiled\n${a}\n--- lua\n${b}`);
  }
  row("same answers as the compiled engine", `${same} of ${probes.length}`);
  // Visit 1,000 rules sites so that workers hold their rules and regexes, then measure.
  for (let i = 0; i < Math.min(1000, rulesSites); i++) sh(`curl -s -o /dev/null -H 'Host: rules${i}.bench.test' http://127.0.0.1:${big.port}/old-page-29 -H 'Host: rules${i}.bench.test' http://127.0.0.1:${big.port}/assets/app.js`);
  const pid = big.nginx.pid!;
  row("nginx RSS after serving 1,000 rules sites", `master ${rssMb(pid).toFixed(0)} MB, workers ${childPids(pid).map((p) => rssMb(p).toFixed(0)).join("/")} MB`);
  for (const [label, host, path] of [
    ["plain site, 10 KB HTML", "plain0", "/index.html"],
    ["plain site, JS asset (gzip)", "plain0", "/assets/app.js"],
    ["rules site, JS asset (gzip)", last, "/assets/app.js"],
    ["rules site, clean URL /about", last, "/about"],
    ["rules site, a redirect rule", last, "/old-page-29"],
  ] as const) {
    const baseHost = host.startsWith("plain") ? "plain0" : "rules0";
    let a = { rps: 0, p99: 0, errors: 0 };
    let b = { rps: 0, p99: 0, errors: 0 };
    let s = { rps: 0, p99: 0, errors: 0 };
    for (let i = 0; i < 3; i++) {
      const x = wrk(one.port, `${baseHost}.bench.test`, path);
      const y = wrk(oneLua.port, `${baseHost}.bench.test`, path);
      const z = wrk(big.port, `${host}.bench.test`, path);
      if (x.rps > a.rps) a = x;
      if (y.rps > b.rps) b = y;
      if (z.rps > s.rps) s = z;
    }
    row(`req/s ${label}`, `lua ${sites}: ${s.rps.toFixed(0)} (p99 ${s.p99.toFixed(2)})`, `1 site compiled: ${a.rps.toFixed(0)} (p99 ${a.p99.toFixed(2)}) ratio ${(s.rps / a.rps).toFixed(2)}`, `1 site lua: ${b.rps.toFixed(0)} ratio ${(s.rps / b.rps).toFixed(2)}`);
  }
} finally {
  await one.stop();
  await oneLua.nginx.stop();
  await big.nginx.stop();
  sh(`rm -rf ${work}`);
}
