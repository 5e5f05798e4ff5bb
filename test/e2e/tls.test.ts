// TLS between Sprout's parts (issue 10, "Between parts"): a master with a self-signed certificate is
// reached by its key's pin, by agents, gateways and CLIs alike; a different key is refused; node APIs
// serve HTTPS with their own pins, handed out by the master; no token goes over plain HTTP to another
// machine.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { type Proc, cleanup, freePort, site, sproutBinary, start, tempDir } from "../helpers/cluster";
import { secureFetch, selfSignedCertificate } from "../../src/shared/tls";

const email = "admin@example.com";
const password = "correct horse battery";
let home: string;
let master: string;
let pin: string;
let masterProc: Proc;
const procs: Proc[] = [];
const nodes: { name: string; url: string; httpUrl: string; token: string; data: string; p: Proc }[] = [];
let adminToken: string;

/** call is the admin's JSON call to the master, accepting the master's pinned key only. */
async function call(method: string, path: string, body?: unknown, token = adminToken): Promise<{ status: number; body: any }> {
  const r = await secureFetch(`${master}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }, pin);
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** cli runs the CLI with its own config folder; `env` may set SPROUT_MASTER_PIN, SPROUT_TOKEN... */
async function cli(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([sproutBinary(), ...args], {
    cwd: home,
    env: { ...process.env, SPROUT_CONFIG_DIR: join(home, "cli"), SPROUT_CACHE_DIR: join(home, "cache"), SPROUT_LOG: "", SPROUT_MASTER: "", SPROUT_TOKEN: "", SPROUT_MASTER_PIN: "", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, stdout, stderr };
}

async function until(what: string, f: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f().catch(() => false)) return;
    await Bun.sleep(100);
  }
  throw new Error(`${what} not within ${ms} ms:\n${[masterProc, ...procs].map((p) => `----- ${p.name}\n${p.output()}`).join("\n")}`);
}

/** addNode registers and starts a node whose API serves HTTPS with its own self-signed certificate. */
async function addNode(name: string) {
  const created = await call("POST", "/api/agent", { name });
  const data = join(home, name);
  const { p } = await start(
    `agent ${name}`,
    ["agent", "--master", master, "--master-pin", pin, "--name", name, "--listen", "127.0.0.1:0", "--tls", "self-signed", "--http-listen", `127.0.0.1:${freePort()}`, "--data", data],
    { SPROUT_AGENT_TOKEN: created.body.token },
    /nginx serving on (http:\/\/\S+)/,
  );
  procs.push(p);
  const url = p.output().match(/sprout agent listening on (https:\/\/\S+)/)![1]!;
  const node = { name, url, httpUrl: p.output().match(/nginx serving on (http:\/\/\S+)/)![1]!, token: created.body.token, data, p };
  nodes.push(node);
  await until(`${name} online`, async () => (await call("GET", "/api/agents")).body.some((a: any) => a.name === name && a.status === "online" && a.tls_pin));
  return node;
}

beforeAll(async () => {
  home = tempDir();
  const started = await start(
    "master",
    ["master", "--listen", "127.0.0.1:0", "--tls", "self-signed", "--data", join(home, "master"), "--domain", "sprout.test", "--admin-email", email],
    { SPROUT_ADMIN_PASSWORD: password },
    /sprout master listening on (https:\/\/\S+) .*pin=(sha256\/\/\S+)/,
  );
  masterProc = started.p;
  master = started.match[1]!;
  pin = started.match[2]!;
  adminToken = (await call("POST", "/api/user/token", { email, password }, "")).body.access_token;
  await addNode("tlsnode1");
  await addNode("tlsnode2");
}, 90_000);
afterAll(async () => {
  for (const p of [...procs].reverse()) await p.kill();
  await masterProc?.kill();
  await cleanup();
});

test("the master serves HTTPS with a self-signed certificate whose pin it prints; plain clients refuse it", async () => {
  expect(master.startsWith("https://")).toBe(true);
  expect(masterProc.output()).toContain(`sprout login --master ${master} --pin ${pin}`);
  // An ordinary client (system CAs only) does not trust it: the pin is the only way in.
  await expect(fetch(`${master}/api/health`)).rejects.toThrow();
  expect((await call("GET", "/api/health", undefined, "")).body).toEqual({ ok: true });
});

test("a CLI logs in by the master's pin and deploys to nodes whose HTTPS APIs it reaches by the pins the master gives", async () => {
  const login = await cli(["login", "--master", master, "--email", email, "--password", password, "--pin", pin]);
  expect(login.code).toBe(0);
  const r = await cli(["deploy", site({ "index.html": "over pinned https" }), "--site", "pinned", "--prod", "--json"]);
  if (r.code !== 0) throw new Error(`${r.stdout}\n${r.stderr}\n${masterProc.output()}`);
  const d = JSON.parse(r.stdout);
  expect(d.status).toBe("ready");
  // Both replicas serve it: the second node pulled the files from the first over its pinned HTTPS API.
  for (const n of nodes)
    await until(`${n.name} serves the site`, async () => (await (await fetch(n.httpUrl, { headers: { host: "pinned.sprout.test" } })).text()) === "over pinned https");
  const info = (await call("GET", "/api/site/pinned")).body;
  expect(info.nodes.map((n: any) => n.name).sort()).toEqual(["tlsnode1", "tlsnode2"]);
  // Each node's API is HTTPS and the pin the master shows is the one its API presents.
  const agents = (await call("GET", "/api/agents")).body;
  for (const n of nodes) {
    const a = agents.find((x: any) => x.name === n.name);
    expect(a.url).toBe(n.url);
    expect(n.p.output()).toContain(`pin=${a.tls_pin}`);
    expect((await (await secureFetch(`${n.url}/healthz`, {}, a.tls_pin)).json()).ok).toBe(true);
  }
}, 60_000);

test("a CLI without the pin is refused and told the pin to compare; a CLI with another pin is refused", async () => {
  const none = await cli(["login", "--master", master, "--email", email, "--password", password], { SPROUT_CONFIG_DIR: join(home, "cli-nopin") });
  expect(none.code).toBe(1);
  expect(none.stderr).toContain("no known authority signed");
  expect(none.stderr).toContain(`--pin ${pin}`);
  const other = (await selfSignedCertificate("someone else", ["localhost"])).pin;
  const wrong = await cli(["sites"], { SPROUT_MASTER: master, SPROUT_TOKEN: adminToken, SPROUT_MASTER_PIN: other });
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toContain("is not the one pinned");
  expect(wrong.stderr).toContain(pin);
  // With the right pin in the environment (CI), the same command works.
  const right = await cli(["sites", "--json"], { SPROUT_MASTER: master, SPROUT_TOKEN: adminToken, SPROUT_MASTER_PIN: pin });
  expect(right.code).toBe(0);
  expect(right.stdout).toContain("pinned");
});

test("an agent given another pin refuses the master: it never comes online", async () => {
  const created = await call("POST", "/api/agent", { name: "wrongpin" });
  const other = (await selfSignedCertificate("someone else", ["localhost"])).pin;
  const { p } = await start(
    "agent wrongpin",
    ["agent", "--master", master, "--master-pin", other, "--name", "wrongpin", "--listen", "127.0.0.1:0", "--http-listen", `127.0.0.1:${freePort()}`, "--data", join(home, "wrongpin")],
    { SPROUT_AGENT_TOKEN: created.body.token },
    /is not the one pinned/,
  );
  procs.push(p);
  await Bun.sleep(4000);
  const a = (await call("GET", "/api/agents")).body.find((x: any) => x.name === "wrongpin");
  expect(a.status).toBe("new");
  expect(a.last_heartbeat_at).toBeNull();
  // Its log says why, and never shows its token.
  expect(p.output()).toContain(other);
  expect(p.output()).not.toContain(created.body.token);
});

test("no token goes over plain HTTP to another machine: agents and CLIs refuse an http:// master that is not this one", async () => {
  const agent = await cli(["agent", "--master", "http://192.0.2.1:7000", "--token", "spa_x", "--data", tempDir()]);
  expect(agent.code).toBe(2);
  expect(agent.stderr).toContain("in clear");
  const c = await cli(["sites"], { SPROUT_MASTER: "http://192.0.2.1:7000", SPROUT_TOKEN: "spt_secret" });
  expect(c.code).toBe(1);
  expect(c.stderr).toContain("in clear");
  expect(c.stderr).not.toContain("spt_secret");
});

test("a master listening beyond loopback serves HTTPS by default, and a node's public URL must then be https://", async () => {
  const data = tempDir();
  const port = freePort();
  const { p, match } = await start("master (0.0.0.0)", ["master", "--listen", `0.0.0.0:${port}`, "--data", data, "--domain", "sprout.test"], {}, /sprout master listening on (\S+) .*pin=(sha256\/\/\S+)/);
  procs.push(p);
  expect(match[1]).toBe(`https://0.0.0.0:${port}`);
  // The certificate is made once: a restart keeps the pin agents were given.
  await p.kill();
  const again = await start("master (0.0.0.0, again)", ["master", "--listen", `0.0.0.0:${port}`, "--data", data, "--domain", "sprout.test"], {}, /sprout master listening on (\S+) .*pin=(sha256\/\/\S+)/);
  procs.push(again.p);
  expect(again.match[2]).toBe(match[2]!);
  const agent = await cli(["agent", "--master", `https://127.0.0.1:${port}`, "--token", "spa_x", "--listen", `0.0.0.0:${freePort()}`, "--public-url", "http://10.0.0.2:7070", "--data", tempDir()]);
  expect(agent.code).toBe(2);
  expect(agent.stderr).toContain("serves HTTPS");
}, 60_000);

test("a gateway reaches the master by its pin: it routes sites, and passes ACME challenges on over verified HTTPS", async () => {
  const created = await call("POST", "/api/agent", { name: "tlsgw", role: "gateway" });
  const { p, match } = await start(
    "gateway tlsgw",
    ["agent", "--role", "gateway", "--master", master, "--master-pin", pin, "--name", "tlsgw", "--listen", "127.0.0.1:0", "--http-listen", `127.0.0.1:${freePort()}`, "--data", join(home, "tlsgw")],
    { SPROUT_AGENT_TOKEN: created.body.token },
    /nginx serving on (http:\/\/\S+)/,
  );
  procs.push(p);
  const gw = match[1]!;
  await until("the gateway routes the site", async () => (await (await fetch(gw, { headers: { host: "pinned.sprout.test" } })).text()) === "over pinned https");
  // The challenge path reaches the master itself (its JSON 404 for an unknown token), not an nginx error page.
  const challenge = await fetch(`${gw}/.well-known/acme-challenge/no-such-token`, { headers: { host: "pinned.sprout.test" } });
  expect(challenge.status).toBe(404);
  expect((await challenge.json()).error.code).toBe("not_found");
  const conf = await Bun.file(join(home, "tlsgw", "nginx", "nginx.conf")).text();
  expect(conf).toContain("proxy_ssl_verify on;");
}, 60_000);
