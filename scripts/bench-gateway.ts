// The gateway's and a node's HTTPS figures for scripts/bench.ts (issue 10), each against a baseline
// measured in the same run, runs alternating (A B A B ...), min and median reported:
// - requests/s through a gateway vs the same node asked directly, twice:
//   - "shared cores": the gateway's nginx, the node's nginx and wrk all run on all of this machine's
//     cores, as the test cluster does. Every microsecond the gateway spends is taken from the node,
//     so this measures the gateway's CPU cost against the node's (on 2 cores about 0.5-0.6: a proxied
//     request costs the gateway's nginx about what serving a small file costs the node's), not what
//     a visitor gets in production;
//   - "own core": the gateway's nginx pinned to one core (with one worker, as on a one-core machine),
//     the node's nginx and wrk to another (the baseline: the node asked directly with the same
//     pinning of the node and wrk), all of them at nice -10 in both, so that the machine's other
//     work (tests, other benchmarks) does not set the figure, as it would not on machines of their
//     own. In production a gateway is a machine of its own in front of the nodes: this models that,
//     a gateway that adds latency and its own CPU but takes none from the node, with the load
//     generator's cost the same in both (it shares the node's core in both). Skipped with fewer
//     than 2 cores; without root the priority stays as it was. The machine's other work still runs
//     on both cores (other containers are not held back by nice): on a busy machine the gateway
//     waits for its core between requests and this figure falls (0.9 at load 5, 0.3-0.6 at 8-13
//     on 2 cores), which the load average printed with it tells;
//   - "node's own core": the node's nginx alone on one core, wrk on the other in both, the gateway
//     beside wrk: as on separate machines, the node gets its requests from another core whether
//     they come from the gateway or from the load generator, and the gateway's cost is taken from
//     the load generator's core, not the node's. (In "own core", where the node shares its core
//     with wrk, the node's nginx spends about 1.2x the CPU per request through the gateway; with a
//     core of its own, 0.9x: that cost comes from sharing the core, not from the gateway's requests);
//   Both are requests/s, so both move with whatever else the machine runs (pinned or not, other
//   processes share the cores): the load average is printed before and after;
//   and the CPU time per request of the gateway's nginx + the node's nginx vs the node's nginx alone,
//   and of the gateway's nginx vs a bare nginx proxy configured by hand (how close the gateway's
//   configuration is to the least a proxy costs);
// - HTTPS keep-alive requests/s and TLS handshakes/s of the gateway and of a node (--https-listen)
//   vs a bare nginx with the same certificate: as a TLS proxy in front of the node (what both do)
//   and serving the file itself.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { availableParallelism } from "node:os";
import { addGateway, api, childPids, cluster, freePort, site, startDns, startPebble, tempDir } from "../test/helpers/cluster";
import { med, min } from "./bench-lib";

type Row = (name: string, value: string, baseline?: string, ratio?: string, target?: string) => void;

/** PINNED_NICE: the priority of what the "own core" figures measure (see the top of this file). */
const PINNED_NICE = "-10";

/**
 * wrk runs `seconds` of wrk (2 threads, 64 connections), on the cores `cores` at PINNED_NICE if
 * given: requests/s, requests and errors.
 */
function wrk(url: string, host: string, seconds = 3, cores?: string) {
  const cmd = ["wrk", "-t2", "-c64", `-d${seconds}s`, "-H", `Host: ${host}`, url];
  const r = Bun.spawnSync(cores ? ["nice", "-n", PINNED_NICE, "taskset", "-c", cores, ...cmd] : cmd, { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + Number(/Socket errors: connect (\d+)/.exec(out)?.[1] ?? 0),
  };
}

/** nginxCpuMs answers the user + system CPU time (ms) of the nginx whose pid file is given, master and workers. */
function nginxCpuMs(pidFile: string): number {
  const master = Number(readFileSync(pidFile, "utf8").trim());
  let ticks = 0;
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const f = readFileSync(`/proc/${e}/stat`, "utf8").split(") ")[1]!.split(" ");
      if (Number(e) === master || Number(f[1]) === master) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return ticks * 10;
}

/**
 * nginxSwitches answers the context switches of the nginx whose pid file is given, master and
 * workers: how often it went to sleep and woke for work (few, with many requests per wake-up).
 */
function nginxSwitches(pidFile: string): number {
  const master = Number(readFileSync(pidFile, "utf8").trim());
  let n = 0;
  for (const pid of [master, ...childPids(master)]) {
    try {
      for (const m of readFileSync(`/proc/${pid}/status`, "utf8").matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) n += Number(m[1]);
    } catch {
      /* gone */
    }
  }
  return n;
}

/**
 * pinNginx runs the nginx whose pid file is given (master and workers; workers forked by a later
 * reload inherit both) on the cores `cores` (taskset's list) at PINNED_NICE; answers a function
 * that puts back the cores and priority it ran with.
 */
function pinNginx(pidFile: string, cores: string): () => void {
  const master = Number(readFileSync(pidFile, "utf8").trim());
  const was = /: ([0-9a-f]+)\s*$/.exec(Bun.spawnSync(["taskset", "-p", String(master)], { stdout: "pipe" }).stdout.toString())?.[1];
  const set = (mask: string[], nice: string) => {
    for (const pid of [master, ...childPids(master)]) {
      const r = Bun.spawnSync(["taskset", "-a", "-p", ...mask, String(pid)], { stdout: "ignore", stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`taskset ${pid}: ${r.stderr.toString()}`);
      Bun.spawnSync(["renice", "-n", nice, "-p", String(pid)], { stdout: "ignore", stderr: "ignore" });
    }
  };
  set(["-c", cores], PINNED_NICE);
  return () => set(was ? [was] : ["-c", `0-${availableParallelism() - 1}`], "0");
}

/**
 * reloadNginx writes `conf` as the nginx.conf of the agent whose data folder is given, reloads its
 * nginx and waits until it runs `workers` workers (0: does not wait).
 */
async function reloadNginx(data: string, pidFile: string, conf: string, workers: number) {
  const prefix = join(data, "nginx");
  writeFileSync(join(prefix, "nginx.conf"), conf);
  const r = Bun.spawnSync(["nginx", "-p", prefix, "-c", join(prefix, "nginx.conf"), "-s", "reload"], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`nginx reload: ${r.stderr.toString()}`);
  const master = Number(readFileSync(pidFile, "utf8").trim());
  for (let i = 0; workers && i < 100 && childPids(master).length !== workers; i++) await Bun.sleep(100);
  // The old workers finish their connections and leave.
  await Bun.sleep(500);
}

/** loadAverage is the 1-minute load average and the number of cores, for the bench's context. */
const loadAverage = () => `${readFileSync("/proc/loadavg", "utf8").split(" ")[0]} on ${availableParallelism()} cores`;

/** cpuDuring answers what `f` returns and the CPU ms each nginx (by pid file) spent meanwhile. */
async function cpuDuring<T>(pidFiles: string[], f: () => T | Promise<T>): Promise<{ r: T; cpu: number[] }> {
  const before = pidFiles.map(nginxCpuMs);
  const r = await f();
  return { r, cpu: pidFiles.map((p, i) => nginxCpuMs(p) - before[i]!) };
}

const mm = (a: number[], d = 0) => `${min(a).toFixed(d)} / ${med(a).toFixed(d)}`;
const tlsConnect = (port: number, name: string, ca: string) =>
  new Promise<TLSSocket>((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, servername: name, ca, ALPNProtocols: ["http/1.1"] }, () => resolve(s));
    s.once("error", reject);
  });

/**
 * httpsKeepAlive sends GET / over `conns` keep-alive TLS connections for `seconds` and answers
 * requests/s (wrk sends the URL's host as SNI and cannot reach a name without DNS, hence this client;
 * it shares the cores with the servers, so only the ratio to the baseline measured alike means much).
 */
async function httpsKeepAlive(port: number, name: string, ca: string, seconds = 3, conns = 16): Promise<{ rps: number; errors: number }> {
  let done = 0;
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const request = `GET / HTTP/1.1\r\nHost: ${name}\r\n\r\n`;
  const one = async () => {
    // nginx closes a keep-alive connection after 1,000 requests: then the next one opens a new one.
    while (Date.now() < end) {
      const s = await tlsConnect(port, name, ca);
      let buf = "";
      let closed = false;
      let waiting: (() => void) | null = null;
      s.setEncoding("latin1");
      s.on("data", (d: string) => {
        buf += d;
        waiting?.();
      });
      s.on("close", () => {
        closed = true;
        waiting?.();
      });
      while (Date.now() < end && !closed) {
        buf = "";
        s.write(request);
        // A whole response: headers, then Content-Length bytes.
        for (;;) {
          const h = buf.indexOf("\r\n\r\n");
          const len = h >= 0 ? Number(/content-length: (\d+)/i.exec(buf.slice(0, h))?.[1] ?? -1) : -1;
          if ((h >= 0 && len >= 0 && buf.length >= h + 4 + len) || closed) break;
          await new Promise<void>((r) => (waiting = r));
        }
        if (buf.startsWith("HTTP/1.1 200")) done++;
        else if (!closed) errors++;
      }
      s.destroy();
    }
  };
  await Promise.all(Array.from({ length: conns }, one));
  return { rps: done / seconds, errors };
}

/** handshakes opens and closes TLS connections (full handshakes, no resumption) for `seconds`: handshakes/s. */
async function handshakes(port: number, name: string, ca: string, seconds = 3, parallel = 8): Promise<number> {
  let n = 0;
  const end = Date.now() + seconds * 1000;
  const loop = async () => {
    while (Date.now() < end) {
      const s = await tlsConnect(port, name, ca);
      n++;
      s.destroy();
    }
  };
  await Promise.all(Array.from({ length: parallel }, loop));
  return n / seconds;
}

/** benchGateway runs the gateway scenario (and a node's HTTPS) and adds its rows. */
export async function benchGateway(row: Row, o: { runs?: number } = {}) {
  const runs = o.runs ?? 5;
  console.error("== gateway: requests through a gateway vs to the node directly; HTTPS of a gateway and a node vs bare nginx with the same certificate");
  const httpPort = freePort();
  const httpsPort = freePort();
  const nodeHttpsPort = freePort();
  const name = "www.bench.test";
  const dns = await startDns(["--local=/bench.test/", "--local=/sprout.test/", "--host-record=bench.sprout.test,127.0.0.1", `--cname=${name},bench.sprout.test`]);
  const pebble = await startPebble(dns.port, httpPort);
  const c = await cluster({
    agents: 0,
    masterArgs: ["--dns-server", `127.0.0.1:${dns.port}`, "--domain-check-interval", "2", "--acme-directory", pebble.directory, "--acme-email", "ops@bench.test", "--acme-ca-file", pebble.caFile],
  });
  try {
    const n = await c.addAgent("node1", ["--https-listen", `127.0.0.1:${nodeHttpsPort}`]);
    const gw = await addGateway(c, "gw", ["--http-listen", `127.0.0.1:${httpPort}`, "--https-listen", `127.0.0.1:${httpsPort}`]);
    const page = `<!doctype html><title>bench</title>${"<p>Lorem ipsum dolor sit amet.</p>".repeat(300)}`;
    const d = await c.sprout(["deploy", site({ "index.html": page }), "--site", "bench", "--prod"]);
    if (d.code !== 0) throw new Error(d.stderr);
    const added = await c.sprout(["domains", "add", name, "--site", "bench", "--json"]);
    if (added.code !== 0) throw new Error(added.stderr);
    const root = await Bun.file(await pebble.rootFile()).text();
    // Served over HTTPS by the gateway and the node once the certificate is issued and applied.
    const until = Date.now() + 60_000;
    for (const port of [httpsPort, nodeHttpsPort])
      for (;;) {
        const ok = await httpsKeepAlive(port, name, root, 0.05, 1).then((r) => r.rps > 0, () => false);
        if (ok) break;
        if (Date.now() > until) throw new Error(`no certificate served:\n${c.logs()}`);
        await Bun.sleep(500);
      }
    const host = `bench.${c.domain}`;
    const node = n.httpUrl;
    const nodePid = join(n.data, "nginx", "nginx.pid");
    const gwPid = join(gw.data, "nginx", "nginx.pid");
    // Baselines: a bare nginx with the gateway's certificate files, as a TLS proxy in front of the
    // same node, as a plain HTTP proxy, and serving the page itself over TLS.
    const bare = tempDir("sprout-bench-tls-");
    mkdirSync(join(bare, "tmp"), { recursive: true });
    mkdirSync(join(bare, "www"), { recursive: true });
    writeFileSync(join(bare, "www", "index.html"), page);
    const barePort = freePort();
    const bareHttpPort = freePort();
    const bareStaticPort = freePort();
    const bareLivePort = freePort();
    const certs = join(gw.data, "nginx", "certs");
    const tls = `ssl_certificate ${certs}/${name}.crt; ssl_certificate_key ${certs}/${name}.key;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:bare:10m; ssl_session_tickets off;`;
    writeFileSync(
      join(bare, "nginx.conf"),
      `${process.getuid?.() === 0 ? "user nobody nogroup;" : ""}
worker_processes auto; pid ${bare}/nginx.pid; error_log ${bare}/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_timeout 65; sendfile on; tcp_nopush on; default_type text/html;
  client_body_temp_path ${bare}/tmp; proxy_temp_path ${bare}/tmp; fastcgi_temp_path ${bare}/tmp; uwsgi_temp_path ${bare}/tmp; scgi_temp_path ${bare}/tmp;
  upstream node { server ${new URL(node).host}; keepalive 32; }
  server { listen 127.0.0.1:${barePort} ssl http2; server_name ${name}; ${tls}
    location / { proxy_pass http://node; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host ${host}; } }
  server { listen 127.0.0.1:${bareStaticPort} ssl http2; server_name ${name}; ${tls} root ${bare}/www; }
  # The same, reading the certificate at each handshake (a variable in the path), as gateways did before.
  map $host $bare_live { default ""; }
  server { listen 127.0.0.1:${bareLivePort} ssl http2; server_name ${name}; ${tls.replace(/\.crt;/, ".crt$bare_live;").replace(/\.key;/, ".key$bare_live;")} root ${bare}/www; }
  server { listen 127.0.0.1:${bareHttpPort};
    location / { proxy_pass http://node; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host ${host}; } } }`,
    );
    const bareProc = Bun.spawn(["nginx", "-p", bare, "-c", join(bare, "nginx.conf"), "-g", "daemon off;"], { stderr: "inherit" });
    const barePid = join(bare, "nginx.pid");
    for (let i = 0; i < 100 && !existsSync(barePid); i++) await Bun.sleep(50);
    await Bun.sleep(300);
    try {
      row("load average (1 min) at the start of the HTTP runs", loadAverage());
      // Plain HTTP on shared cores: node directly, through the gateway, through a bare nginx proxy; alternating.
      const direct: number[] = [];
      const through: number[] = [];
      const proxied: number[] = [];
      const cpuDirect: number[] = [];
      const cpuThrough: number[] = [];
      const cpuGw: number[] = [];
      const cpuBare: number[] = [];
      let errors = 0;
      for (let i = 0; i < runs; i++) {
        const a = await cpuDuring([nodePid], () => wrk(`${node}/`, host));
        direct.push(a.r.rps);
        cpuDirect.push((a.cpu[0]! * 1000) / a.r.requests);
        const b = await cpuDuring([gwPid, nodePid], () => wrk(`${gw.httpUrl}/`, host));
        through.push(b.r.rps);
        errors += b.r.errors;
        cpuThrough.push(((b.cpu[0]! + b.cpu[1]!) * 1000) / b.r.requests);
        cpuGw.push((b.cpu[0]! * 1000) / b.r.requests);
        const p = await cpuDuring([barePid], () => wrk(`http://127.0.0.1:${bareHttpPort}/`, host));
        proxied.push(p.r.rps);
        cpuBare.push((p.cpu[0]! * 1000) / p.r.requests);
      }
      const both = (a: number[], b: number[]) => `${(min(a) / min(b)).toFixed(2)} / ${(med(a) / med(b)).toFixed(2)}`;
      row("requests/s through a gateway, shared cores (10 KB page)", `${mm(through)} (${errors} errors)`, `node directly ${mm(direct)}`, both(through, direct), "");
      row("nginx CPU µs per request, gateway + node vs node alone", mm(cpuThrough), `node alone ${mm(cpuDirect)}`, (med(cpuThrough) / med(cpuDirect)).toFixed(2), "");
      // The bound on shared cores: the gateway's share of the CPU is taken from the node.
      row("  of which the gateway's nginx", mm(cpuGw), `node alone ${mm(cpuDirect)}`, (med(cpuGw) / med(cpuDirect)).toFixed(2), "");
      row("  the gateway's nginx vs a bare nginx proxy, CPU µs per request", mm(cpuGw), `bare proxy ${mm(cpuBare)}`, (med(cpuGw) / med(cpuBare)).toFixed(2), "~1");
      row("requests/s through a gateway vs a bare nginx proxy", mm(through), `bare proxy ${mm(proxied)}`, (med(through) / med(proxied)).toFixed(2), ">= 0.9");
      // What a core of each serves: a gateway on a machine of its own keeps up with a node of the same
      // size while this is >= 1 (from CPU time per request, which the machine's other load moves less
      // than requests/s).
      row("requests a gateway core serves per request a node core serves", (med(cpuDirect) / med(cpuGw)).toFixed(2), `node ${med(cpuDirect).toFixed(0)} µs, gateway ${med(cpuGw).toFixed(0)} µs per request`, "", "");
      // The gateway on a core of its own (see the top of this file); the node and wrk share the other.
      if (availableParallelism() >= 2) {
        const [gwCore, nodeCore] = ["0", "1"];
        const directPinned: number[] = [];
        const throughPinned: number[] = [];
        const cpuDirectPinned: number[] = [];
        const cpuGwPinned: number[] = [];
        const cpuNodeThroughPinned: number[] = [];
        const switchesDirect: number[] = [];
        const switchesThrough: number[] = [];
        const directAlone: number[] = [];
        const throughAlone: number[] = [];
        const cpuDirectAlone: number[] = [];
        const cpuNodeThroughAlone: number[] = [];
        let pinnedErrors = 0;
        const unpin = [pinNginx(gwPid, gwCore), pinNginx(nodePid, nodeCore)];
        // A gateway with one core runs one worker (what worker_processes auto gives there), not two
        // taking turns on it; put back after.
        const gwConf = join(gw.data, "nginx", "nginx.conf");
        const conf = readFileSync(gwConf, "utf8");
        try {
          await reloadNginx(gw.data, gwPid, conf.replace(/^worker_processes auto;$/m, "worker_processes 1;"), 1);
          for (let i = 0; i < runs; i++) {
            const s0 = nginxSwitches(nodePid);
            const a = await cpuDuring([nodePid], () => wrk(`${node}/`, host, 3, nodeCore));
            const s1 = nginxSwitches(nodePid);
            directPinned.push(a.r.rps);
            cpuDirectPinned.push((a.cpu[0]! * 1000) / a.r.requests);
            const b = await cpuDuring([gwPid, nodePid], () => wrk(`${gw.httpUrl}/`, host, 3, nodeCore));
            throughPinned.push(b.r.rps);
            pinnedErrors += b.r.errors;
            cpuGwPinned.push((b.cpu[0]! * 1000) / b.r.requests);
            cpuNodeThroughPinned.push((b.cpu[1]! * 1000) / b.r.requests);
            switchesDirect.push((s1 - s0) / a.r.requests);
            switchesThrough.push((nginxSwitches(nodePid) - s1) / b.r.requests);
            // The node on a core of its own, wrk (and the gateway) on the other.
            const c = await cpuDuring([nodePid], () => wrk(`${node}/`, host, 3, gwCore));
            directAlone.push(c.r.rps);
            cpuDirectAlone.push((c.cpu[0]! * 1000) / c.r.requests);
            const d = await cpuDuring([nodePid], () => wrk(`${gw.httpUrl}/`, host, 3, gwCore));
            throughAlone.push(d.r.rps);
            pinnedErrors += d.r.errors;
            cpuNodeThroughAlone.push((d.cpu[0]! * 1000) / d.r.requests);
          }
        } finally {
          await reloadNginx(gw.data, gwPid, conf, 0);
          for (const f of unpin) f();
        }
        row(`requests/s through a gateway, own core (gateway: core ${gwCore}; node + wrk: core ${nodeCore}; nice ${PINNED_NICE})`, `${mm(throughPinned)} (${pinnedErrors} errors)`, `node directly, node + wrk: core ${nodeCore} ${mm(directPinned)}`, both(throughPinned, directPinned), ">= 0.8");
        row("  the gateway's nginx CPU µs per request, own core", mm(cpuGwPinned), `node alone ${mm(cpuDirectPinned)}`, (med(cpuGwPinned) / med(cpuDirectPinned)).toFixed(2), "");
        // What a request through the gateway costs the node (its core is the one that sets the figure).
        row("  the node's nginx CPU µs per request, through the gateway vs asked directly", mm(cpuNodeThroughPinned), `directly ${mm(cpuDirectPinned)}`, (med(cpuNodeThroughPinned) / med(cpuDirectPinned)).toFixed(2), "");
        // How often the node's nginx sleeps and wakes per request, each way.
        row("  the node's nginx context switches per request, through the gateway vs directly", mm(switchesThrough, 2), `directly ${mm(switchesDirect, 2)}`, (med(switchesThrough) / Math.max(med(switchesDirect), 0.001)).toFixed(2), "");
        row(`requests/s through a gateway, node's own core (node: core ${nodeCore}; gateway + wrk: core ${gwCore}; nice ${PINNED_NICE})`, mm(throughAlone), `node directly, node: core ${nodeCore}, wrk: core ${gwCore} ${mm(directAlone)}`, both(throughAlone, directAlone), ">= 0.8");
        row("  the node's nginx CPU µs per request there, through the gateway vs asked directly", mm(cpuNodeThroughAlone), `directly ${mm(cpuDirectAlone)}`, (med(cpuNodeThroughAlone) / med(cpuDirectAlone)).toFixed(2), "");
        console.error(`(raw, own core) direct=${directPinned} through=${throughPinned}`);
      } else row("requests/s through a gateway, own core", "skipped: fewer than 2 cores");
      row("load average (1 min) at the end of the HTTP runs", loadAverage());
      // HTTPS: keep-alive requests/s and full handshakes/s, each subject alternating with the baselines.
      const subjects = { gateway: httpsPort, node: nodeHttpsPort, bareProxy: barePort, bareStatic: bareStaticPort, bareLive: bareLivePort };
      const pids: Record<string, string> = { gateway: gwPid, node: nodePid, bareProxy: barePid, bareStatic: barePid, bareLive: barePid };
      const hsCpu: Record<string, number[]> = { gateway: [], node: [], bareProxy: [], bareStatic: [], bareLive: [] };
      const ka: Record<string, number[]> = { gateway: [], node: [], bareProxy: [], bareStatic: [], bareLive: [] };
      const hs: Record<string, number[]> = { gateway: [], node: [], bareProxy: [], bareStatic: [], bareLive: [] };
      let errs = 0;
      for (let i = 0; i < Math.max(3, runs - 2); i++)
        for (const [k, port] of Object.entries(subjects)) {
          const r = await httpsKeepAlive(port, name, root, 2);
          ka[k]!.push(r.rps);
          errs += r.errors;
          const h = await cpuDuring([pids[k]!], () => handshakes(port, name, root, 2));
          hs[k]!.push(h.r);
          hsCpu[k]!.push((h.cpu[0]! * 1000) / (h.r * 2));
        }
      const ratio = (a: number[], b: number[]) => (med(a) / med(b)).toFixed(2);
      row("HTTPS keep-alive requests/s, gateway", `${mm(ka.gateway!)} (${errs} errors, all)`, `bare TLS proxy ${mm(ka.bareProxy!)}`, ratio(ka.gateway!, ka.bareProxy!), ">= 0.8");
      row("HTTPS keep-alive requests/s, node (--https-listen)", mm(ka.node!), `bare TLS proxy ${mm(ka.bareProxy!)}`, ratio(ka.node!, ka.bareProxy!), "");
      row("HTTPS keep-alive requests/s, node vs bare nginx serving the file", mm(ka.node!), `bare static ${mm(ka.bareStatic!)}`, ratio(ka.node!, ka.bareStatic!), "");
      row("TLS handshakes/s, gateway", mm(hs.gateway!), `bare nginx ${mm(hs.bareStatic!)}`, ratio(hs.gateway!, hs.bareStatic!), "");
      row("TLS handshakes/s, node (--https-listen)", mm(hs.node!), `bare nginx ${mm(hs.bareStatic!)}`, ratio(hs.node!, hs.bareStatic!), "");
      // The client above is the bottleneck of those rates; nginx's CPU time per handshake is the steadier figure.
      row("nginx CPU µs per full TLS handshake, gateway", mm(hsCpu.gateway!), `bare nginx ${mm(hsCpu.bareStatic!)}`, ratio(hsCpu.gateway!, hsCpu.bareStatic!), "~1");
      row("nginx CPU µs per full TLS handshake, node", mm(hsCpu.node!), `bare nginx ${mm(hsCpu.bareStatic!)}`, ratio(hsCpu.node!, hsCpu.bareStatic!), "~1");
      row("  bare nginx reading the certificate per handshake", mm(hsCpu.bareLive!), `bare nginx ${mm(hsCpu.bareStatic!)}`, ratio(hsCpu.bareLive!, hsCpu.bareStatic!), "");
      console.error(`(raw) ka=${JSON.stringify(ka)} hs=${JSON.stringify(hs)} http direct=${direct} through=${through} proxied=${proxied} cpu direct=${cpuDirect.map((x) => x.toFixed(1))} through=${cpuThrough.map((x) => x.toFixed(1))}`);
    } finally {
      bareProc.kill("SIGQUIT");
      await bareProc.exited;
    }
    const agents = (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body;
    row("gateway nginx reloads (routes + 1 certificate)", String(agents.find((a: any) => a.name === "gw")?.system?.nginx_reloads ?? "?"));
  } finally {
    await c.stop();
  }
}
