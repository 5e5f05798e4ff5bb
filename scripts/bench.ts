// scripts/bench: Sprout's speed and memory against baselines measured in the same run on this machine
// (DESIGN.md section 11). Run with `bun run bench`. Starts a real master, agent and nginx (the test
// fixtures), generates sites in a temporary folder, and removes everything at the end.
// `bun scripts/bench.ts --only nodes` runs only the 1,000-node scenario (scripts/bench-nodes.ts);
// `--only deploy` only the deploy targets of scripts/bench-deploy.ts; `--only scale [--sites N --rules-sites N]`
// the rules engine at 10,000 sites (scripts/bench-rules-engine.ts; with `--rules-engine nginx [--deploys N
// --sites-per-shard N --jit on|off]` the include engine's, scripts/bench-scale.ts)
// only the 10,000-site node (scripts/bench-scale.ts, 10-20 minutes or more); `--only gateway` only the
// gateway's (scripts/bench-gateway.ts).
import { mkdirSync, readFileSync, writeFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { api, cleanup, cluster, freePort, tempDir } from "../test/helpers/cluster";
import { benchNodes } from "./bench-nodes";
import { benchScale } from "./bench-scale";
import { benchScaleLua } from "./bench-rules-engine";
import { benchGateway } from "./bench-gateway";
import { deployScenarios } from "./bench-deploy";

import { BENCH_QUOTAS, deploy, needTools, results, row, rssMb, wrk } from "./bench-lib";

/** nodesScenario: the master's CPU with 1,000 simulated nodes heartbeating and long-polling. */
async function nodesScenario() {
  console.error("== 1,000 nodes heartbeating every 3 s and long-polling (simulated in another process)");
  const c = await cluster({ agents: 0 });
  try {
    const r = await benchNodes(c, 1000, 60);
    row(
      "master CPU, 1,000 nodes (heartbeat 3 s + long poll)",
      `${r.cpuPercent.toFixed(1)}% of one core`,
      `${(r.heartbeats / r.seconds).toFixed(0)} heartbeats/s, ${r.polls} polls, ${r.errors} errors in ${r.seconds.toFixed(0)} s`,
      "",
      "< 20%",
    );
    row("master RSS with 1,000 nodes", `${rssMb(c.masterProc.proc.pid)} MB`);
  } finally {
    await c.stop();
    await cleanup();
  }
}

function printTable() {
  const w = [56, 30, 40, 11, 10];
  const line = (r: string[]) => r.map((x, i) => x.padEnd(w[i]!)).join(" | ");
  console.log(line(["measure", "sprout", "baseline", "ratio", "target"]));
  for (const r of results) console.log(line([r.name, r.value, r.baseline, r.ratio, r.target]));
}

async function main() {
  const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : null;
  needTools({ rsync: "rsync", wrk: "wrk", taskset: "util-linux", curl: "curl", tar: "tar" });
  if (only === "nodes") {
    await nodesScenario();
    return printTable();
  }
  if (only === "gateway") {
    try {
      await benchGateway(row);
    } finally {
      await cleanup();
    }
    return printTable();
  }
  if (only === "scale") {
    console.error("== 10,000 sites, 2,000 with rules, on one node vs one site (5-20 minutes)");
    const flag = (name: string) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : undefined);
    if (process.argv.includes("--rules-engine") && process.argv[process.argv.indexOf("--rules-engine") + 1] === "nginx")
      await benchScale(row, { deploys: flag("--deploys"), sites: flag("--sites"), rulesSites: flag("--rules-sites"), perShard: flag("--sites-per-shard"), jit: process.argv.includes("--jit") ? process.argv[process.argv.indexOf("--jit") + 1] !== "off" : undefined });
    else await benchScaleLua(row, { sites: flag("--sites"), rulesSites: flag("--rules-sites") });
    return printTable();
  }
  if (only === "deploy") {
    const work = tempDir("sprout-bench-");
    const c = await cluster({ masterArgs: BENCH_QUOTAS });
    try {
      await deployScenarios(c, work);
    } finally {
      await c.stop();
      await cleanup();
    }
    return printTable();
  }
  if (only) throw new Error(`--only ${only}: the scenarios that run alone are "nodes", "deploy", "gateway" and "scale"`);
  const work = tempDir("sprout-bench-");
  const c = await cluster({ masterArgs: BENCH_QUOTAS });
  try {
    await deployScenarios(c, work);

    const nginxUrl = c.nodes[0]!.httpUrl;
    console.error("== serving: agent nginx vs bare nginx on the same folder");
    const agents = (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body;
    row("nginx reloads during all deploys above", String(agents[0].system.nginx_reloads), "", "", "0");
    const root = realpathSync(join(c.nodes[0]!.data, "sites", "cold0", "current"));
    const bare = join(work, "bare");
    mkdirSync(join(bare, "tmp"), { recursive: true });
    const port = freePort();
    writeFileSync(
      join(bare, "nginx.conf"),
      `${process.getuid?.() === 0 ? "user nobody nogroup; # as the agent's nginx workers run" : ""}
worker_processes auto; pid ${bare}/nginx.pid; error_log ${bare}/error.log;
events { worker_connections 4096; }
http { include /etc/nginx/mime.types; access_log off; sendfile on; tcp_nopush on; keepalive_timeout 65;
  client_body_temp_path ${bare}/tmp; proxy_temp_path ${bare}/tmp; fastcgi_temp_path ${bare}/tmp; uwsgi_temp_path ${bare}/tmp; scgi_temp_path ${bare}/tmp;
  server { listen 127.0.0.1:${port}; root ${root}; } }`,
    );
    const bareProc = Bun.spawn(["nginx", "-p", bare, "-c", join(bare, "nginx.conf"), "-g", "daemon off;"], { stderr: "inherit" });
    await Bun.sleep(500);
    try {
      // wrk and nginx share this machine's cores, so single runs differ by ~10%: alternate the two
      // servers three times and keep each one's best run.
      for (const [label, path] of [["index.html (10 KB HTML)", "/index.html"], ["small asset", "/d1/f1.bin"]] as const) {
        let base = 0;
        let ours = 0;
        let errors = 0;
        for (let i = 0; i < 3; i++) {
          base = Math.max(base, wrk(`http://127.0.0.1:${port}${path}`, null).rps);
          const r = wrk(`${nginxUrl}${path}`, `cold0.${c.domain}`);
          ours = Math.max(ours, r.rps);
          errors += r.errors;
        }
        row(`requests/s, ${label}`, `${ours.toFixed(0)} (${errors} errors)`, `bare nginx ${base.toFixed(0)}`, (ours / base).toFixed(3), ">= 0.95");
      }
    } finally {
      bareProc.kill("SIGQUIT");
      await bareProc.exited;
    }

    console.error("== serving rules: 200 redirect rules and 50 header blocks vs the same site without");
    {
      const ruled = join(work, "ruled");
      mkdirSync(ruled);
      writeFileSync(join(ruled, "index.html"), readFileSync(join(work, "cold0", "index.html")));
      writeFileSync(join(ruled, "_redirects"), Array.from({ length: 200 }, (_, i) => `/old/${i}/*  /new/${i}/:splat  301`).join("\n"));
      writeFileSync(join(ruled, "_headers"), Array.from({ length: 50 }, (_, i) => `/section${i}/*\n  X-Section: ${i}\n`).join("") + "/*\n  X-Frame-Options: DENY\n");
      await deploy(c, ruled, "ruled", join(work, "cache-ruled"));
      let plain = 0;
      let withRules = 0;
      for (let i = 0; i < 3; i++) {
        plain = Math.max(plain, wrk(`${nginxUrl}/index.html`, `cold0.${c.domain}`).rps);
        withRules = Math.max(withRules, wrk(`${nginxUrl}/index.html`, `ruled.${c.domain}`).rps);
      }
      row("requests/s with 200 rules + 50 header blocks", withRules.toFixed(0), `no rules ${plain.toFixed(0)}`, (withRules / plain).toFixed(3), ">= 0.90");
    }

    console.error("== one tenant's 1,000 query rules and a 7 KB query string vs a site without rules");
    {
      const heavy = join(work, "heavy");
      mkdirSync(heavy);
      writeFileSync(join(heavy, "index.html"), "heavy");
      writeFileSync(join(heavy, "_redirects"), Array.from({ length: 1000 }, (_, i) => `/q${i} p${i}=:v  /t/:v  301`).join("\n"));
      await deploy(c, heavy, "heavy", join(work, "cache-heavy"));
      // A path no file answers, so every rule is tried; the query is the attacker's 7 KB.
      const query = "?" + Array.from({ length: 700 }, (_, i) => `k${i}=vvvvv`).join("&");
      let plain = 0;
      let withRules = 0;
      for (let i = 0; i < 3; i++) {
        plain = Math.max(plain, wrk(`${nginxUrl}/missing${query}`, `cold0.${c.domain}`).rps);
        withRules = Math.max(withRules, wrk(`${nginxUrl}/missing${query}`, `heavy.${c.domain}`).rps);
      }
      row("requests/s, 1,000 query rules + 7 KB query (404 path)", withRules.toFixed(0), `no rules ${plain.toFixed(0)}`, (withRules / plain).toFixed(3), "bounded (was ~0.001)");
    }

    console.error("== brotli vs gzip: one JS asset, bytes sent and requests/s");
    {
      const dir = join(work, "brjs");
      mkdirSync(dir);
      // A real bundle when one is at hand (htmx, from the dependencies), else generated code.
      const real = [...new Bun.Glob("node_modules/htmx.org/dist/*.js").scanSync()].map((f) => ({ f, n: Bun.file(f).size })).sort((a, b) => b.n - a.n)[0];
      const js = real ? readFileSync(real.f) : Buffer.from(Array.from({ length: 3000 }, (_, i) => `export function f${i}(e) { return e.type === "x${i % 17}" ? ${i} : null; }\n`).join(""));
      writeFileSync(join(dir, "app.js"), js);
      writeFileSync(join(dir, "index.html"), "brotli");
      await deploy(c, dir, "brjs", join(work, "cache-brjs"));
      const fetchAs = (enc: string) => fetch(`${nginxUrl}/app.js`, { headers: { host: `brjs.${c.domain}`, "accept-encoding": enc }, decompress: false } as RequestInit);
      // The .br sibling is made in the background after the deploy: wait for it (at most a minute).
      const end = Date.now() + 60_000;
      while ((await fetchAs("br")).headers.get("content-encoding") !== "br" && Date.now() < end) await Bun.sleep(200);
      const br = await fetchAs("br");
      if (br.headers.get("content-encoding") !== "br") row("brotli vs gzip, JS asset", "no br answer (brotli module missing?)");
      else {
        const brBytes = (await br.arrayBuffer()).byteLength;
        const gzBytes = (await (await fetchAs("gzip")).arrayBuffer()).byteLength;
        let brRps = 0;
        let gzRps = 0;
        for (let i = 0; i < 3; i++) {
          gzRps = Math.max(gzRps, wrk(`${nginxUrl}/app.js`, `brjs.${c.domain}`, ["Accept-Encoding: gzip"]).rps);
          brRps = Math.max(brRps, wrk(`${nginxUrl}/app.js`, `brjs.${c.domain}`, ["Accept-Encoding: br"]).rps);
        }
        row(
          `brotli vs gzip, ${(js.length / 1024).toFixed(0)} KB JS asset (bytes; requests/s)`,
          `br ${brBytes} B; ${brRps.toFixed(0)}/s`,
          `gzip ${gzBytes} B; ${gzRps.toFixed(0)}/s`,
          `${(brBytes / gzBytes).toFixed(3)}; ${(brRps / gzRps).toFixed(3)}`,
          "bytes < 1; req/s ~1",
        );
      }
    }

    console.error("== memory");
    row("master RSS", `${rssMb(c.masterProc.proc.pid)} MB`);
    row("agent RSS", `${rssMb(c.nodes[0]!.p.proc.pid)} MB`);
  } finally {
    await c.stop();
    await cleanup();
  }
  try {
    await benchGateway(row);
  } finally {
    await cleanup();
  }
  console.error("== 10,000 sites, 2,000 with rules, on one node vs one site (5-20 minutes)");
  await benchScaleLua(row);
  await nodesScenario();
  printTable();
}

await main();
