// The gateway's figures for scripts/bench.ts (issue 10): requests/s through a gateway against the
// same node asked directly, and HTTPS (keep-alive requests/s, TLS handshakes/s) of the gateway against
// a bare nginx that terminates TLS with the same certificate in front of the same node. Baselines
// are measured in the same run, alternating with the subject (A B A B), best run of each kept.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { addGateway, api, cluster, freePort, site, startDns, startPebble, tempDir } from "../test/helpers/cluster";

type Row = (name: string, value: string, baseline?: string, ratio?: string, target?: string) => void;

function wrk(url: string, host: string) {
  const r = Bun.spawnSync(["wrk", "-t2", "-c64", "-d3s", "-H", `Host: ${host}`, url], { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + Number(/Socket errors: connect (\d+)/.exec(out)?.[1] ?? 0) };
}

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

/** benchGateway runs the gateway scenario and adds its rows. */
export async function benchGateway(row: Row) {
  console.error("== gateway: requests through a gateway vs to the node directly; HTTPS vs bare nginx with the same certificate");
  const httpPort = freePort();
  const httpsPort = freePort();
  const name = "www.bench.test";
  const dns = await startDns(["--local=/bench.test/", "--local=/sprout.test/", "--host-record=bench.sprout.test,127.0.0.1", `--cname=${name},bench.sprout.test`]);
  const pebble = await startPebble(dns.port, httpPort);
  const c = await cluster({
    agents: 1,
    masterArgs: ["--dns-server", `127.0.0.1:${dns.port}`, "--domain-check-interval", "2", "--acme-directory", pebble.directory, "--acme-email", "ops@bench.test", "--acme-ca-file", pebble.caFile],
  });
  try {
    const gw = await addGateway(c, "gw", ["--http-listen", `127.0.0.1:${httpPort}`, "--https-listen", `127.0.0.1:${httpsPort}`]);
    const page = `<!doctype html><title>bench</title>${"<p>Lorem ipsum dolor sit amet.</p>".repeat(300)}`;
    const d = await c.sprout(["deploy", site({ "index.html": page }), "--site", "bench", "--prod"]);
    if (d.code !== 0) throw new Error(d.stderr);
    const added = await c.sprout(["domains", "add", name, "--site", "bench", "--json"]);
    if (added.code !== 0) throw new Error(added.stderr);
    const root = await Bun.file(await pebble.rootFile()).text();
    // Served over HTTPS by the gateway once the certificate is issued and the routes are applied.
    const until = Date.now() + 60_000;
    for (;;) {
      const ok = await httpsKeepAlive(httpsPort, name, root, 0.05, 1).then((r) => r.rps > 0, () => false);
      if (ok) break;
      if (Date.now() > until) throw new Error(`no certificate served:\n${c.logs()}`);
      await Bun.sleep(500);
    }
    const host = `bench.${c.domain}`;
    const node = c.nodes[0]!.httpUrl;
    // Baselines: nginx terminating TLS with the gateway's certificate files in front of the same node,
    // and the same nginx as a plain HTTP proxy (what any load balancer on this machine costs).
    const bare = tempDir("sprout-bench-tls-");
    mkdirSync(join(bare, "tmp"), { recursive: true });
    const barePort = freePort();
    const bareHttpPort = freePort();
    const certs = join(gw.data, "nginx", "certs");
    writeFileSync(
      join(bare, "nginx.conf"),
      `${process.getuid?.() === 0 ? "user nobody nogroup;" : ""}
worker_processes auto; pid ${bare}/nginx.pid; error_log ${bare}/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_timeout 65;
  client_body_temp_path ${bare}/tmp; proxy_temp_path ${bare}/tmp; fastcgi_temp_path ${bare}/tmp; uwsgi_temp_path ${bare}/tmp; scgi_temp_path ${bare}/tmp;
  upstream node { server ${new URL(node).host}; keepalive 32; }
  server { listen 127.0.0.1:${barePort} ssl http2; server_name ${name};
    ssl_certificate ${certs}/${name}.crt; ssl_certificate_key ${certs}/${name}.key;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:bare:10m; ssl_session_tickets off;
    location / { proxy_pass http://node; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host ${host}; } }
  server { listen 127.0.0.1:${bareHttpPort};
    location / { proxy_pass http://node; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host ${host}; } } }`,
    );
    const bareProc = Bun.spawn(["nginx", "-p", bare, "-c", join(bare, "nginx.conf"), "-g", "daemon off;"], { stderr: "inherit" });
    await Bun.sleep(500);
    try {
      let direct = 0;
      let through = 0;
      let proxied = 0;
      let errors = 0;
      for (let i = 0; i < 3; i++) {
        direct = Math.max(direct, wrk(`${node}/`, host).rps);
        const r = wrk(`${gw.httpUrl}/`, host);
        through = Math.max(through, r.rps);
        errors += r.errors;
        proxied = Math.max(proxied, wrk(`http://127.0.0.1:${bareHttpPort}/`, host).rps);
      }
      // On one machine the gateway, the node and wrk share the cores: a proxy hop does about the work
      // of the node again, so "node directly" is a bound for separate machines, and the bare proxy is
      // the like-for-like baseline here.
      row("requests/s through a gateway (10 KB page)", `${through.toFixed(0)} (${errors} errors)`, `node directly ${direct.toFixed(0)}`, (through / direct).toFixed(3), ">= 0.8");
      row("requests/s through a gateway vs a bare nginx proxy", through.toFixed(0), `bare proxy ${proxied.toFixed(0)}`, (through / proxied).toFixed(3), ">= 0.9");
      let base = { rps: 0, hs: 0 };
      let ours = { rps: 0, hs: 0 };
      let errs = 0;
      for (let i = 0; i < 3; i++) {
        base.rps = Math.max(base.rps, (await httpsKeepAlive(barePort, name, root)).rps);
        const r = await httpsKeepAlive(httpsPort, name, root);
        ours.rps = Math.max(ours.rps, r.rps);
        errs += r.errors;
        base.hs = Math.max(base.hs, await handshakes(barePort, name, root));
        ours.hs = Math.max(ours.hs, await handshakes(httpsPort, name, root));
      }
      row("HTTPS keep-alive requests/s via the gateway", `${ours.rps.toFixed(0)} (${errs} errors)`, `bare nginx, same cert ${base.rps.toFixed(0)}`, (ours.rps / base.rps).toFixed(3), ">= 0.8");
      row("TLS handshakes/s via the gateway (cert read per handshake)", ours.hs.toFixed(0), `bare nginx, same cert ${base.hs.toFixed(0)}`, (ours.hs / base.hs).toFixed(3), "");
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
