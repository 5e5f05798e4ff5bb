// End-to-end fixtures: the compiled binary, copied into a temporary folder and run from there (so it
import { afterAll, beforeAll } from "bun:test";
// proves it needs nothing beside it), as a real master and real agents with their own nginx on free
// loopback ports. Everything started here is stopped, and every folder removed, by `stop()`.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const ROOT = join(import.meta.dir, "..", "..");
let binary: string | null = null;
const tempDirs: string[] = [];
const agentDirs: string[] = [];

function newestMtime(dir: string): number {
  let m = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const st = statSync(join(dir, f));
    if (st.isFile()) m = Math.max(m, st.mtimeMs);
  }
  return m;
}

/** sproutBinary builds dist/sprout when missing or older than src/, and copies it to a temp folder. */
export function sproutBinary(): string {
  if (binary) return binary;
  const dist = join(ROOT, "dist", "sprout");
  if (!existsSync(dist) || statSync(dist).mtimeMs < newestMtime(join(ROOT, "src"))) {
    const r = Bun.spawnSync(["bun", "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`build failed:\n${r.stderr.toString()}`);
  }
  const dir = tempDir("sprout-bin-");
  binary = join(dir, "sprout");
  copyFileSync(dist, binary);
  Bun.spawnSync(["chmod", "755", binary]);
  return binary;
}

/** tempDir makes a temporary folder that cleanup() removes. 0755 so nginx workers can traverse it. */
export function tempDir(prefix = "sprout-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  Bun.spawnSync(["chmod", "755", d]);
  tempDirs.push(d);
  return d;
}

/**
 * freePort asks the OS for a free TCP port on 127.0.0.1, never one it answered before in this
 * process: a port picked early (a test's HTTPS port) is free again until used, and the OS may hand it
 * out twice (seen: a gateway's HTTP and HTTPS listeners on one port, which nginx refuses).
 */
export function freePort(): number {
  for (;;) {
    const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const p = s.port;
    s.stop(true);
    if (!givenPorts.has(p)) {
      givenPorts.add(p);
      return p;
    }
  }
}
const givenPorts = new Set<number>();

/** Proc is a started sprout process with its collected output. */
export interface Proc {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  name: string;
  output: () => string;
  kill: (signal?: NodeJS.Signals) => Promise<void>;
}

const procs: Proc[] = [];

/** start runs `sprout args` and waits until its output matches `ready` (a "listening on" line). */
export async function start(name: string, args: string[], env: Record<string, string>, ready: RegExp, timeoutMs = 20_000): Promise<{ p: Proc; match: RegExpMatchArray }> {
  const proc = Bun.spawn([sproutBinary(), ...args], { env: { ...process.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out += new TextDecoder().decode(chunk);
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  const p: Proc = {
    proc,
    name,
    output: () => out,
    kill: async (signal = "SIGTERM") => {
      if (proc.exitCode !== null || proc.signalCode) return;
      proc.kill(signal);
      const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
      if (!done) proc.kill("SIGKILL");
      await proc.exited;
    },
  };
  procs.push(p);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const m = out.match(ready);
    if (m) return { p, match: m };
    if (proc.exitCode !== null) throw new Error(`${name} exited (${proc.exitCode}) before it was ready:\n${out}`);
    if (Date.now() > end) throw new Error(`${name} not ready after ${timeoutMs} ms:\n${out}`);
    await Bun.sleep(50);
  }
}

/** api calls the master as JSON; answers status and parsed body. */
export async function api(base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, body: parsed };
}

/** Node is one started agent and its nginx. */
export interface Node {
  id: string;
  name: string;
  url: string;
  httpUrl: string;
  data: string;
  token: string;
  p: Proc;
}

/** Cluster is a running master with an admin, and its agents. */
export interface Cluster {
  master: string;
  masterProc: Proc;
  domain: string;
  admin: { email: string; password: string; token: string; refresh: string };
  nodes: Node[];
  home: string;
  /** addAgent starts one more agent (on its own ports and folder). */
  addAgent(name: string, extraArgs?: string[]): Promise<Node>;
  /** sprout runs the CLI as the admin (SPROUT_MASTER/SPROUT_TOKEN) unless env overrides. */
  sprout(args: string[], env?: Record<string, string>, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** get fetches `path` of `host` through a node's nginx. */
  get(host: string, path?: string, node?: Node, init?: RequestInit): Promise<Response>;
  /** user has the admin create another user (POST /api/users) and answers its access token. */
  user(email: string): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * cluster starts a master with its admin (made at start by --admin-email, as operators do) and starts
 * `agents` agents, waiting until they are online. `masterArgs` adds flags to `sprout master`.
 */
export async function cluster(opts: { agents?: number; domain?: string; agentArgs?: string[]; masterArgs?: string[] } = {}): Promise<Cluster> {
  const domain = opts.domain ?? "sprout.test";
  const home = tempDir();
  const mine: Proc[] = [];
  const email = "admin@example.com";
  const password = "correct horse battery";
  const { p: masterProc, match } = await start(
    "master",
    ["master", "--listen", "127.0.0.1:0", "--data", join(home, "master"), "--domain", domain, "--admin-email", email, ...(opts.masterArgs ?? [])],
    { SPROUT_ADMIN_PASSWORD: password },
    /sprout master listening on (http:\/\/\S+)/,
  );
  mine.push(masterProc);
  const master = match[1]!;
  const login = await api(master, "POST", "/api/user/token", { email, password });
  const nodes: Node[] = [];
  const env = { SPROUT_CONFIG_DIR: join(home, "cli-config"), SPROUT_CACHE_DIR: join(home, "cli-cache"), SPROUT_LOG: "" };

  const c: Cluster = {
    master,
    masterProc,
    domain,
    admin: { email, password, token: login.body.access_token, refresh: login.body.refresh_token },
    nodes,
    home,
    async addAgent(name, extraArgs = []) {
      const created = await api(master, "POST", "/api/agent", { name }, c.admin.token);
      if (created.status !== 201) throw new Error(`agent create: ${JSON.stringify(created.body)}`);
      const data = join(home, `agent-${name}`);
      agentDirs.push(data);
      const httpPort = freePort();
      const { p, match } = await start(`agent ${name}`, ["agent", "--master", master, "--name", name, "--listen", "127.0.0.1:0", "--http-listen", `127.0.0.1:${httpPort}`, "--data", data, ...(opts.agentArgs ?? []), ...extraArgs], { SPROUT_AGENT_TOKEN: created.body.token }, /nginx serving on (http:\/\/\S+)/);
      mine.push(p);
      const url = p.output().match(/sprout agent listening on (http:\/\/\S+)/)![1]!;
      const node: Node = { id: created.body.id, name, url, httpUrl: match[1]!, data, token: created.body.token, p };
      const end = Date.now() + 15_000;
      while (Date.now() < end) {
        const list = await api(master, "GET", "/api/agents", undefined, c.admin.token);
        if (list.body.some?.((a: any) => a.id === node.id && a.status === "online")) break;
        await Bun.sleep(100);
      }
      nodes.push(node);
      return node;
    },
    async sprout(args, extraEnv = {}, cwd) {
      const proc = Bun.spawn([sproutBinary(), ...args], {
        cwd: cwd ?? home,
        env: { ...process.env, ...env, SPROUT_MASTER: master, SPROUT_TOKEN: c.admin.token, ...extraEnv },
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      return { code: await proc.exited, stdout, stderr };
    },
    get(host, path = "/", node = nodes[0]!, init = {}) {
      return fetch(`${node.httpUrl}${path}`, { redirect: "manual", ...init, headers: { ...(init.headers as Record<string, string>), host } });
    },
    async user(userEmail) {
      const created = await api(master, "POST", "/api/users", { email: userEmail, password: "another password" }, c.admin.token);
      if (created.status !== 201) throw new Error(`user create: ${JSON.stringify(created.body)}`);
      return (await api(master, "POST", "/api/user/token", { email: userEmail, password: "another password" })).body.access_token;
    },
    logs: () => mine.map((p) => `----- ${p.name}\n${p.output()}`).join("\n"),
    async stop() {
      for (const p of [...mine].reverse()) await p.kill();
      // An agent always stops its nginx; make sure even if the agent was killed hard.
      for (const n of nodes) killNginx(n.data);
    },
  };
  for (let i = 0; i < (opts.agents ?? 1); i++) await c.addAgent(`node${i + 1}`);
  return c;
}

/**
 * killNginx stops an agent's nginx (the main one and its shards, masters and workers) by their pid
 * files, after SIGKILL of an agent for instance.
 */
export function killNginx(agentData: string) {
  const shards = join(agentData, "nginx", "shards");
  const shardDirs = existsSync(shards) ? readdirSync(shards).map((d) => join("shards", d)) : [];
  for (const dir of ["", ...shardDirs]) killNginxAt(join(agentData, "nginx", dir, "nginx.pid"));
}

/** cleanup kills every process the helpers started and removes every temporary folder. */
export async function cleanup() {
  for (const p of procs.reverse()) await p.kill().catch(() => {});
  procs.length = 0;
  for (const d of agentDirs.splice(0)) killNginx(d);
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  binary = null;
}

/** site writes files into a new temporary folder and answers its path. */
export function site(files: Record<string, string | Uint8Array>): string {
  const dir = tempDir("sprout-site-");
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(join(full, ".."), { recursive: true });
    writeFileSync(full, content);
  }
  return dir;
}

/**
 * useCluster starts a cluster before a test file's tests and stops it (and cleans up) after them,
 * also when they fail. Call it at the top level of a test file; use the returned getter in tests.
 */
export function useCluster(opts: Parameters<typeof cluster>[0] = {}): () => Cluster {
  let c: Cluster | undefined;
  // Generous: on a busy machine a master, agents and nginx take longer than bun's 5 s default.
  beforeAll(async () => {
    c = await cluster(opts);
  }, 60_000);
  afterAll(async () => {
    await c?.stop();
    await cleanup();
  });
  return () => c!;
}

/** Gateway is one started `sprout agent --role gateway`. */
export interface Gateway {
  id: string;
  name: string;
  httpUrl: string;
  data: string;
  token: string;
  p: Proc;
}

/**
 * addGateway registers a gateway (`--role gateway`) with the cluster's master, starts it on free
 * ports and waits until its nginx serves and the master sees it online. cleanup() stops it.
 */
export async function addGateway(c: Cluster, name: string, extraArgs: string[] = [], token?: string): Promise<Gateway> {
  let id = "";
  if (!token) {
    const created = await api(c.master, "POST", "/api/agent", { name, role: "gateway" }, c.admin.token);
    if (created.status !== 201) throw new Error(`gateway create: ${JSON.stringify(created.body)}`);
    token = created.body.token as string;
    id = created.body.id;
  }
  const data = join(c.home, `gateway-${name}`);
  agentDirs.push(data);
  const httpPort = extraArgs.includes("--http-listen") ? null : freePort();
  const { p, match } = await start(
    `gateway ${name}`,
    ["agent", "--role", "gateway", "--master", c.master, "--name", name, "--listen", "127.0.0.1:0", ...(httpPort ? ["--http-listen", `127.0.0.1:${httpPort}`] : []), "--data", data, ...extraArgs],
    { SPROUT_AGENT_TOKEN: token },
    /nginx serving on (http:\/\/\S+)/,
  );
  const end = Date.now() + 15_000;
  while (Date.now() < end) {
    // With the master down (a test of that), the gateway serves from its saved routes: do not wait.
    const list = await api(c.master, "GET", "/api/agents", undefined, c.admin.token).catch(() => null);
    if (!list) break;
    const mine = list.body.find?.((a: any) => a.name === name && a.status === "online");
    if (mine) {
      id = mine.id;
      break;
    }
    await Bun.sleep(100);
  }
  return { id, name, httpUrl: match[1]!, data, token, p };
}

/** killNginxHard SIGKILLs an agent's main nginx master and its workers, as a crashed machine would lose them. */
export function killNginxHard(agentData: string) {
  killNginxAt(join(agentData, "nginx", "nginx.pid"));
}

/** childPids lists the processes whose parent is `pid` (an nginx master's workers), from /proc. */
export function childPids(pid: number): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, "utf8");
        // Field 4 (after the parenthesised command name) is the parent pid.
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** killNginxAt SIGKILLs the nginx master named by a pid file and its workers. */
export function killNginxAt(pidFile: string) {
  if (!existsSync(pidFile)) return;
  const master = Number(readFileSync(pidFile, "utf8").trim());
  // An empty pid file (nginx starting or stopping) reads as 0, and kill(0) would end this test run.
  if (!Number.isInteger(master) || master <= 1) return;
  // A stale pid file may name another process by now: only an nginx master is killed.
  try {
    if (!readFileSync(`/proc/${master}/cmdline`, "utf8").startsWith("nginx: master")) return;
  } catch {
    return;
  }
  const kids = childPids(master);
  for (const pid of [master, ...kids]) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
}

/** Dns is a dnsmasq started by a test, answering only the records it was given. */
export interface Dns {
  port: number;
  /** set restarts dnsmasq on the same port with these records (dnsmasq flags such as `--cname=a,b`). */
  set(records: string[]): Promise<void>;
}

/**
 * startDns runs dnsmasq (Debian's dnsmasq-base) on a free loopback port with `records` (e.g.
 * `--host-record=web.sprout.test,127.0.0.1`, `--cname=www.example.test,web.sprout.test`,
 * `--txt-record=_sprout-challenge.www.example.test,TOKEN`). cleanup() stops it.
 */
export async function startDns(records: string[]): Promise<Dns> {
  const port = freePort();
  let current: Proc | null = null;
  const run = async (recs: string[]) => {
    await current?.kill();
    const proc = Bun.spawn(
      ["/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", `--port=${port}`, "--listen-address=127.0.0.1", "--bind-interfaces", "--pid-file=", "--log-facility=-", ...recs],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe" },
    );
    let out = "";
    const pump = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s) out += new TextDecoder().decode(chunk);
    };
    void pump(proc.stdout);
    void pump(proc.stderr);
    current = {
      proc,
      name: "dnsmasq",
      output: () => out,
      kill: async (signal = "SIGTERM") => {
        if (proc.exitCode !== null || proc.signalCode) return;
        proc.kill(signal);
        await proc.exited;
      },
    };
    procs.push(current);
    // Ready once it answers on UDP.
    const end = Date.now() + 5000;
    while (Date.now() < end && !out.includes("started")) {
      if (proc.exitCode !== null) throw new Error(`dnsmasq exited:\n${out}`);
      await Bun.sleep(20);
    }
    await Bun.sleep(50);
  };
  await run(records);
  return { port, set: run };
}

/** Pebble is a test ACME CA (Debian's pebble) validating HTTP-01 on `httpPort` of the names' addresses. */
export interface Pebble {
  directory: string;
  /** caFile: the certificate of pebble's own API (for --acme-ca-file). */
  caFile: string;
  /** rootFile: a file with the root that signs issued certificates (it changes at every start). */
  rootFile(): Promise<string>;
}

/** startPebble runs pebble with `dnsPort` as its resolver; HTTP-01 goes to `httpPort`. cleanup() stops it. */
export async function startPebble(dnsPort: number, httpPort: number): Promise<Pebble> {
  const dir = tempDir("sprout-pebble-");
  const acmePort = freePort();
  const mgmtPort = freePort();
  const tlsPort = freePort();
  const ssl = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", join(dir, "pebble.key"), "-out", join(dir, "pebble.crt")], { stdout: "pipe", stderr: "pipe" });
  if (ssl.exitCode !== 0) throw new Error(`openssl: ${ssl.stderr.toString()}`);
  writeFileSync(
    join(dir, "pebble.json"),
    JSON.stringify({ pebble: { listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${mgmtPort}`, certificate: join(dir, "pebble.crt"), privateKey: join(dir, "pebble.key"), httpPort, tlsPort, ocspResponderURL: "", externalAccountBindingRequired: false } }),
  );
  const proc = Bun.spawn(["pebble", "-config", join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dnsPort}`], { env: { ...process.env, PEBBLE_VA_NOSLEEP: "1" }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out += new TextDecoder().decode(chunk);
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  procs.push({
    proc,
    name: "pebble",
    output: () => out,
    kill: async (signal = "SIGTERM") => {
      if (proc.exitCode !== null || proc.signalCode) return;
      proc.kill(signal);
      await proc.exited;
    },
  });
  const end = Date.now() + 15_000;
  while (!/Listening on/.test(out)) {
    if (proc.exitCode !== null || Date.now() > end) throw new Error(`pebble did not start:\n${out}`);
    await Bun.sleep(50);
  }
  return {
    directory: `https://127.0.0.1:${acmePort}/dir`,
    caFile: join(dir, "pebble.crt"),
    async rootFile() {
      const r = Bun.spawnSync(["curl", "-sf", "--cacert", join(dir, "pebble.crt"), `https://127.0.0.1:${mgmtPort}/roots/0`], { stdout: "pipe" });
      const f = join(dir, "root.pem");
      writeFileSync(f, r.stdout.toString());
      return f;
    },
  };
}

/**
 * restartAgent starts node `i` of a cluster again after it was killed: same name, token, data
 * folder and ports, as an operator's restart would. The cluster's node entry takes the new process.
 */
export async function restartAgent(c: Cluster, i: number, args: string[] = []): Promise<Node> {
  const node = c.nodes[i]!;
  const { p } = await start(
    `agent ${node.name} (restarted)`,
    ["agent", "--master", c.master, "--name", node.name, "--listen", `127.0.0.1:${new URL(node.url).port}`, "--http-listen", `127.0.0.1:${new URL(node.httpUrl).port}`, "--data", node.data, ...args],
    { SPROUT_AGENT_TOKEN: node.token },
    /nginx serving on/,
  );
  c.nodes[i] = { ...node, p };
  return c.nodes[i]!;
}

/**
 * buildVersion builds another `sprout` reporting `version` (and, with `protocol`, speaking only that
 * wire protocol) into a temporary folder, as a release of another version would be. Answers its path.
 */
export function buildVersion(version: string, protocol?: number): string {
  sproutBinary();
  const out = join(tempDir("sprout-build-"), "sprout");
  const r = Bun.spawnSync(["bun", "scripts/build.ts"], {
    cwd: ROOT,
    env: { ...process.env, SPROUT_VERSION: version, SPROUT_BUILD_OUT: out, ...(protocol ? { SPROUT_PROTOCOL: String(protocol) } : {}) },
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`build of ${version} failed:\n${r.stderr.toString()}`);
  return out;
}

/** copyBinary copies a binary into its own temporary folder, as a machine of its own would hold it. */
export function copyBinary(path: string): string {
  const out = join(tempDir("sprout-bin-"), "sprout");
  copyFileSync(path, out);
  Bun.spawnSync(["chmod", "755", out]);
  return out;
}

/**
 * withBinary runs `fn` with the processes it starts (start(), cluster(), addAgent(), c.sprout())
 * running `path` instead of dist/sprout: a cluster mixing versions, or nodes with their own copy.
 */
export async function withBinary<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const before = sproutBinary();
  binary = path;
  try {
    return await fn();
  } finally {
    binary = before;
  }
}

/**
 * killByPidFile ends the agent whose pid its data folder records (an upgraded agent restarts as a
 * new process the helpers did not start), and its nginx.
 */
export async function killByPidFile(agentData: string) {
  const f = join(agentData, "agent.pid");
  const pid = existsSync(f) ? Number(readFileSync(f, "utf8").trim()) : 0;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (Number.isInteger(pid) && pid > 1 && alive()) {
    // Asked first, so it stops its nginx; killed if it does not within 10 s.
    process.kill(pid, "SIGTERM");
    const end = Date.now() + 10_000;
    while (alive() && Date.now() < end) await Bun.sleep(50);
    if (alive()) process.kill(pid, "SIGKILL");
  }
  killNginxHard(agentData);
}
