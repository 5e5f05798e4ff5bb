// scripts/bench: Sprout's speed and memory against baselines measured in the same run on this machine
// (DESIGN.md section 11). Run with `bun run bench`. Starts a real master, agent and nginx (the test
// fixtures), generates sites in a temporary folder, and removes everything at the end.
// `bun scripts/bench.ts --only nodes` runs only the 1,000-node scenario (scripts/bench-nodes.ts);
// `--only gateway` only the gateway's (scripts/bench-gateway.ts).
import { mkdirSync, readFileSync, writeFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { api, cleanup, cluster, freePort, tempDir, type Cluster } from "../test/helpers/cluster";
import { benchNodes } from "./bench-nodes";
import { benchGateway } from "./bench-gateway";

const results: { name: string; value: string; baseline: string; ratio: string; target: string }[] = [];
const row = (name: string, value: string, baseline = "", ratio = "", target = "") => {
  results.push({ name, value, baseline, ratio, target });
  console.error(`  ${name}: ${value}${baseline ? ` (baseline ${baseline}, ratio ${ratio})` : ""}${target ? ` target ${target}` : ""}`);
};

/** makeSite writes `files` files totalling about `totalBytes`: half text (compressible), half random. */
function makeSite(dir: string, files: number, totalBytes: number) {
  const avg = Math.floor(totalBytes / files);
  for (let i = 0; i < files; i++) {
    const sub = join(dir, `d${i % 50}`);
    if (i < 50) mkdirSync(sub, { recursive: true });
    const size = Math.max(16, Math.floor(avg * (0.5 + ((i * 7919) % 100) / 100)));
    const body = i % 2 ? randomBytes(size) : Buffer.from(`/* file ${i} */ `.repeat(Math.ceil(size / 16)).slice(0, size));
    writeFileSync(join(sub, `f${i}.${i % 2 ? "bin" : "css"}`), body);
  }
  writeFileSync(join(dir, "index.html"), `<!doctype html><title>bench</title>${"<p>Lorem ipsum dolor sit amet.</p>".repeat(300)}`);
}

const time = async (f: () => Promise<unknown> | unknown) => {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
};

function sh(cmd: string) {
  const r = Bun.spawnSync(["bash", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

async function deploy(c: Cluster, dir: string, site: string, cacheDir: string) {
  const r = await c.sprout(["deploy", dir, "--site", site, "--prod", "--json"], { SPROUT_CACHE_DIR: cacheDir });
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

function rssMb(pid: number) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? (Number(m[1]) / 1024).toFixed(0) : "?";
}

function wrk(url: string, host: string | null) {
  const out = sh(`wrk -t2 -c64 -d3s ${host ? `-H 'Host: ${host}'` : ""} ${url}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0";
  return { rps, errors: Number(errors) };
}

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
  const w = [52, 26, 40, 8, 8];
  const line = (r: string[]) => r.map((x, i) => x.padEnd(w[i]!)).join(" | ");
  console.log(line(["measure", "sprout", "baseline", "ratio", "target"]));
  for (const r of results) console.log(line([r.name, r.value, r.baseline, r.ratio, r.target]));
}

async function main() {
  const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : null;
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
  if (only) throw new Error(`--only ${only}: the scenarios that run alone are "nodes" and "gateway"`);
  const work = tempDir("sprout-bench-");
  const c = await cluster();
  try {
    console.error("== cold deploy: 5,000 files, ~100 MB");
    const cold = join(work, "cold");
    mkdirSync(cold);
    makeSite(cold, 5000, 100 * 1024 * 1024);
    // File creation speed on a VM drifts by several times within minutes, so the baseline is taken
    // right before and right after the deploy, and the ratio uses their mean. Each timing includes
    // a `sync`, so both pay for their writes rather than leaving them in the page cache.
    const tarCopy = async (n: number) => {
      const copy = join(work, `copy${n}`);
      mkdirSync(copy);
      sh("sync");
      return time(() => sh(`tar -C ${cold} -cf - . | tar -C ${copy} -xf - && sync`));
    };
    const tarBefore = await tarCopy(1);
    sh("sync");
    const deployS = await time(async () => {
      await deploy(c, cold, "cold", join(work, "cache-cold"));
      sh("sync");
    });
    const tarAfter = await tarCopy(2);
    const tarS = (tarBefore + tarAfter) / 2;
    row("cold deploy 5,000 files / 100 MB", `${deployS.toFixed(2)} s`, `tar|tar ${tarBefore.toFixed(2)}/${tarAfter.toFixed(2)} s`, (deployS / tarS).toFixed(2), "<= 2x");

    console.error("== redeploy: 10,000 files, one changed");
    const many = join(work, "many");
    mkdirSync(many);
    makeSite(many, 10_000, 40 * 1024 * 1024);
    const cache = join(work, "cache-many");
    await deploy(c, many, "many", cache);
    writeFileSync(join(many, "index.html"), "<!doctype html><title>changed</title>");
    let changed: any;
    const redeployS = await time(async () => (changed = await deploy(c, many, "many", cache)));
    row("redeploy 10,000 files, 1 changed (end to end)", `${redeployS.toFixed(3)} s (${changed.files_uploaded} uploaded)`, "1 s target", (redeployS / 1).toFixed(2), "< 1 s");

    console.error("== activation");
    const nginxUrl = c.nodes[0]!.httpUrl;
    const samples: number[] = [];
    const agentMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const r = await c.sprout(["rollback", "--site", "many"]);
      if (r.code !== 0) throw new Error(r.stderr);
      const target = (await api(c.master, "GET", "/api/site/many", undefined, c.admin.token)).body.production_deployment_id;
      samples.push(performance.now() - t0);
      const events = (await api(c.master, "GET", `/api/deployment/${target}`, undefined, c.admin.token)).body.events;
      const act = [...events].reverse().find((e: any) => /^Activated in/.test(e.message));
      agentMs.push(Number(/([\d.]+) ms/.exec(act.message)![1]));
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    row("activation on the node (symlink swap)", `${med(agentMs).toFixed(2)} ms median`, "", "", "< 50 ms");
    row("rollback round trip (CLI -> master -> agent -> live)", `${med(samples).toFixed(0)} ms median`, "", "", "");

    console.error("== serving: agent nginx vs bare nginx on the same folder");
    const agents = (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body;
    row("nginx reloads during all deploys above", String(agents[0].system.nginx_reloads), "", "", "0");
    const root = realpathSync(join(c.nodes[0]!.data, "sites", "cold", "current"));
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
          const r = wrk(`${nginxUrl}${path}`, `cold.${c.domain}`);
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
      writeFileSync(join(ruled, "index.html"), readFileSync(join(cold, "index.html")));
      writeFileSync(join(ruled, "_redirects"), Array.from({ length: 200 }, (_, i) => `/old/${i}/*  /new/${i}/:splat  301`).join("\n"));
      writeFileSync(join(ruled, "_headers"), Array.from({ length: 50 }, (_, i) => `/section${i}/*\n  X-Section: ${i}\n`).join("") + "/*\n  X-Frame-Options: DENY\n");
      await deploy(c, ruled, "ruled", join(work, "cache-ruled"));
      let plain = 0;
      let withRules = 0;
      for (let i = 0; i < 3; i++) {
        plain = Math.max(plain, wrk(`${nginxUrl}/index.html`, `cold.${c.domain}`).rps);
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
        plain = Math.max(plain, wrk(`${nginxUrl}/missing${query}`, `cold.${c.domain}`).rps);
        withRules = Math.max(withRules, wrk(`${nginxUrl}/missing${query}`, `heavy.${c.domain}`).rps);
      }
      row("requests/s, 1,000 query rules + 7 KB query (404 path)", withRules.toFixed(0), `no rules ${plain.toFixed(0)}`, (withRules / plain).toFixed(3), "bounded (was ~0.001)");
    }

    console.error("== nginx reload with 1,000 sites that have rules");
    {
      const { nginxLayout, renderNginxConf } = await import("../src/agent/nginx/config");
      const { NginxProcess } = await import("../src/agent/nginx/process");
      const { renderSiteInclude } = await import("../src/agent/nginx/site-include");
      const data = join(work, "reload");
      const layout = nginxLayout(data);
      const nginx = new NginxProcess(Bun.which("nginx") ?? "/usr/sbin/nginx", layout);
      const listen = `127.0.0.1:${freePort()}`;
      nginx.writeConf(renderNginxConf({ dataDir: data, listen, domain: "bench.test", workerUser: null }));
      const redirects = Array.from({ length: 20 }, (_, i) => `/old/${i}/*  /new/${i}/:splat  301`).join("\n");
      const headers = "/*\n  X-Frame-Options: DENY\n/admin/*\n  Basic-Auth: admin:benchpassword\n";
      for (let i = 0; i < 1000; i++) {
        const r = renderSiteInclude({ site: `site${i}`, domain: "bench.test", listen, sitesDir: join(data, "sites"), filesDir: join(data, "nginx", "auth"), secret: new Uint8Array(8), production: { id: "p", rules: { redirects, headers, spa: i % 2 === 0 } }, deployments: [] });
        mkdirSync(join(data, "nginx", "auth"), { recursive: true });
        for (const f of r.files) writeFileSync(f.path, f.content);
        writeFileSync(join(layout.sitesDir, `site${i}.conf`), r.text!);
      }
      const testS = await time(() => nginx.test());
      nginx.start();
      await Bun.sleep(1500);
      const samples: number[] = [];
      // Each reload is awaited until nginx's new workers run (reload() waits for that, and for a
      // start still in progress); a figure from an nginx that is not running would mean nothing.
      for (let i = 0; i < 3; i++) samples.push(await time(() => nginx.reload()));
      const running = nginx.state === "running";
      await nginx.stop();
      row("nginx -t with 1,000 rules sites", `${(testS * 1000).toFixed(0)} ms`);
      row("nginx reload with 1,000 rules sites", running ? `${(Math.min(...samples) * 1000).toFixed(0)} ms (best of 3, incl. 100 ms batching)` : `nginx was not running (${nginx.lastError ?? "exited"}): no figure`);
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
  await nodesScenario();
  printTable();
}

await main();
