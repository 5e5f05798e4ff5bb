import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import type { Command } from "../../shared/command";
import type { AgentCreated, AgentInfo } from "../../protocol/agent";
import type { ApiTokenCreated, TokenPair } from "../../protocol/user";
import { SproutError } from "../../shared/errors";
import { newSecret, sha256Hex } from "../../shared/ids";
import { blockedFolder, workerIdentity } from "../../agent/layout";
import { parseListen, waitForSignal } from "../../shared/listen";
import { Api } from "../api";
import { action } from "../action";
import { loadStore, profileNameFor, putProfile } from "../credentials";
import { deploy } from "../deploy-flow";
import { bold, green, info } from "../output";
import indexHtml from "../example-site/index.html" with { type: "text" };
import styleCss from "../example-site/style.css" with { type: "text" };
import notFoundHtml from "../example-site/404.html" with { type: "text" };

/** self is how to start this same program again: the compiled binary, or bun + the entry file. */
function self(): string[] {
  return Bun.main.startsWith("/$bunfs") || Bun.main.includes("~BUN") ? [process.execPath] : [process.execPath, Bun.main];
}

/** freePortOr answers `port` when it is free on `host`, else one the OS picks. */
function freePortOr(host: string, port: number): number {
  try {
    const s = Bun.listen({ hostname: host, port, socket: { data() {} } });
    const p = s.port;
    s.stop(true);
    return p;
  } catch {
    const s = Bun.listen({ hostname: host, port: 0, socket: { data() {} } });
    const p = s.port;
    s.stop(true);
    return p;
  }
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what} did not come up in ${ms / 1000} s; see the logs folder.`);
    await Bun.sleep(150);
  }
}

const ADMIN_EMAIL = "admin@sprout.localhost";

/**
 * adminApi gives `sprout up` its admin client. It keeps an admin-scoped API token in DIR/admin-token
 * (0600); without one (a first run) it logs in with the password the master was just given, makes
 * the token, and logs the CLI in (its own session). An admin.json of older versions held the password
 * in plain text: it is used once to log in and then removed.
 */
async function adminApi(master: string, data: string, password: string): Promise<{ api: Api; firstRun: boolean; profile: string }> {
  const tokenFile = join(data, "admin-token");
  if (existsSync(tokenFile)) {
    const api = new Api(master, readFileSync(tokenFile, "utf8").trim(), null);
    if (await api.call("GET", "/api/user/info").then(() => true, () => false)) return { api, firstRun: false, profile: describeProfile(master) };
  }
  const legacy = join(data, "admin.json");
  const old = existsSync(legacy) ? (JSON.parse(readFileSync(legacy, "utf8")) as { password?: string }).password : undefined;
  const anon = new Api(master, null, null);
  let pair: TokenPair;
  try {
    pair = await anon.call<TokenPair>("POST", "/api/user/token", { email: ADMIN_EMAIL, password: old ?? password }, false);
  } catch {
    throw new SproutError(401, "no_admin_session", `Cannot log in as ${ADMIN_EMAIL}: its token in ${tokenFile} is missing or revoked.`, `Log in with \`sprout login --master ${master} --email ${ADMIN_EMAIL}\` and create one: \`sprout tokens create sprout-up --scope admin > ${tokenFile}\`.`);
  }
  const profile = await loginProfile(master, pair);
  const session = new Api(master, pair.access_token, null);
  const token = await session.call<ApiTokenCreated>("POST", "/api/tokens", { name: "sprout-up", scope: "admin" });
  writeFileSync(tokenFile, token.token, { mode: 0o600 });
  rmSync(legacy, { force: true });
  return { api: new Api(master, token.token, null), firstRun: old === undefined, profile };
}

/**
 * loginProfile keeps the CLI's admin session as a profile of its own: "local" (or, when "local" is a
 * login to another master, one named after this master's address). It becomes the default only when
 * there is none or the default is for this same master: a login to another master is never replaced.
 * Answers the line `sprout up` prints about it.
 */
async function loginProfile(master: string, pair: TokenPair): Promise<string> {
  const store = loadStore();
  const mine = Object.entries(store.profiles).find(([, p]) => p.master === master)?.[0];
  const name = mine ?? (!store.profiles.local ? "local" : profileNameFor(master));
  const { madeCurrent, previous } = await putProfile(name, { master, email: ADMIN_EMAIL, access_token: pair.access_token, refresh_token: pair.refresh_token }, "if-none-or-same-master");
  if (madeCurrent) return `profile ${name} (the default)`;
  return `profile ${name}; your default stays ${previous!.name} (${previous!.profile.master}): add --profile ${name} to reach this one`;
}

/** describeProfile says which profile reaches `master` on a run that did not log in again. */
function describeProfile(master: string): string {
  const store = loadStore();
  const hit = Object.entries(store.profiles).find(([, p]) => p.master === master)?.[0];
  if (!hit) return `not logged in here: \`sprout login --master ${master} --email ${ADMIN_EMAIL}\``;
  return hit === store.current ? `profile ${hit} (the default)` : `profile ${hit}: add --profile ${hit}`;
}

/**
 * agentData is where `sprout up` keeps the agent's files: in the data folder, unless this runs as
 * root in a folder nginx's unprivileged workers cannot reach (say under /root, 0700); then in
 * /var/lib/sprout-up/<id of the data folder>, so the example still serves without opening /root.
 */
function agentData(data: string): string {
  const inside = join(data, "agent");
  const worker = workerIdentity(undefined);
  const blocked = worker ? blockedFolder(data, worker) : null;
  if (!blocked) return inside;
  const elsewhere = join("/var/lib/sprout-up", sha256Hex(data).slice(0, 12), "agent");
  info(`nginx's workers (user ${worker!.user}) cannot reach ${blocked}: the agent keeps its files in ${elsewhere}.`);
  return elsewhere;
}

export const upCommand: Command = {
  name: "up",
  group: "modes",
  summary: "Run a master, an agent and nginx on this machine, with an example site",
  usage: "up [--data DIR] [--listen HOST:PORT] [--agent-listen HOST:PORT] [--http-listen HOST:PORT] [--domain DOMAIN]",
  options: {
    data: { type: "string", value: "DIR", description: "Folder for everything Sprout keeps", env: "SPROUT_UP_DATA", default: ".sprout" },
    listen: { type: "string", value: "HOST:PORT", description: "Master API and admin UI", default: "127.0.0.1:7000" },
    "agent-listen": { type: "string", value: "HOST:PORT", description: "Agent API", default: "127.0.0.1:7070" },
    "http-listen": { type: "string", value: "HOST:PORT", description: "Where nginx serves the sites", default: "127.0.0.1:8080" },
    domain: { type: "string", value: "DOMAIN", description: "Platform domain (*.localhost opens in any browser)", default: "localhost" },
  },
  examples: ["sprout up", "sprout up --data /tmp/sprout --http-listen 127.0.0.1:9090"],
  run: action(async (v) => {
    const data = resolve(String(v.data));
    mkdirSync(join(data, "logs"), { recursive: true, mode: 0o700 });
    // 0711: nginx's workers (unprivileged when this runs as root) pass through to the agent's served
    // trees; everything else here (tokens, logs, the master) is 0600/0700.
    chmodSync(data, 0o711);
    const pick = (flag: string) => {
      const l = parseListen(String(v[flag]), `--${flag}`);
      const port = freePortOr(l.hostname, l.port);
      if (l.port && port !== l.port) info(`Port ${l.port} is busy; ${flag} uses ${port}.`);
      return `${l.hostname}:${port}`;
    };
    const masterAddr = pick("listen");
    const agentAddr = pick("agent-listen");
    const httpAddr = pick("http-listen");
    const master = `http://${masterAddr}`;
    const children: Subprocess[] = [];
    const spawn = (name: string, args: string[], env: Record<string, string> = {}) => {
      const log = openSync(join(data, "logs", `${name}.log`), "a");
      const p = Bun.spawn([...self(), ...args], { stdout: log, stderr: log, stdin: "ignore", env: { ...process.env, ...env } });
      children.push(p);
      return p;
    };
    const stopAll = async () => {
      for (const p of [...children].reverse()) {
        p.kill("SIGTERM");
        await Promise.race([p.exited, Bun.sleep(8000)]);
        if (p.exitCode === null) p.kill("SIGKILL");
      }
    };
    // Ctrl-C or SIGTERM (systemctl stop, docker stop) at any moment, even while starting, stops the
    // children first: a master, agent or nginx is never left running behind.
    const signalled = waitForSignal();
    let waiting = false;
    void signalled.then(async () => {
      if (waiting) return;
      info("Stopping...");
      await stopAll();
      process.exit(0);
    });
    try {
      // The admin is made by the master itself at its first start (race-free, out of band), with a
      // password generated here and shown once. What stays on disk is tokens, never the password.
      const password = newSecret(15);
      spawn("master", ["master", "--listen", masterAddr, "--data", join(data, "master"), "--domain", String(v.domain), "--admin-email", ADMIN_EMAIL], { SPROUT_ADMIN_PASSWORD: password });
      await waitFor("The master", async () => ((await fetch(`${master}/api/health`)).ok ? true : undefined));
      const { api, firstRun, profile } = await adminApi(master, data, password);
      const agentFile = join(data, "agent.json");
      let agent = existsSync(agentFile) ? (JSON.parse(readFileSync(agentFile, "utf8")) as AgentCreated) : null;
      if (!agent) {
        agent = await api.call<AgentCreated>("POST", "/api/agent", { name: "local", url: `http://${agentAddr}` });
        writeFileSync(agentFile, JSON.stringify(agent), { mode: 0o600 });
      } else {
        // The admin's own word: the agent's URL is pinned, and this run may listen elsewhere.
        await api.call("POST", `/api/agent/${agent.id}/url`, { url: `http://${agentAddr}` });
      }
      // The token goes in the environment, not argv, where `ps` would show it to every user.
      spawn("agent", ["agent", "--master", master, "--name", agent.name, "--listen", agentAddr, "--http-listen", httpAddr, "--data", agentData(data)], { SPROUT_AGENT_TOKEN: agent.token });
      // Online as of a heartbeat of this run: the row may still say "online" from the last run.
      const since = new Date().toISOString();
      await waitFor("The agent", async () =>
        (await api.call<AgentInfo[]>("GET", "/api/agents")).some((a) => a.id === agent!.id && a.status === "online" && a.url === `http://${agentAddr}` && (a.last_heartbeat_at ?? "") > since) ? true : undefined);

      const site = mkdtempSync(join(tmpdir(), "sprout-example-"));
      writeFileSync(join(site, "index.html"), indexHtml as unknown as string);
      writeFileSync(join(site, "style.css"), styleCss);
      writeFileSync(join(site, "404.html"), notFoundHtml as unknown as string);
      let r;
      try {
        r = await deploy(api, site, "example", true, { quiet: true });
      } finally {
        rmSync(site, { recursive: true, force: true });
      }
      // Live on the node is not yet served: on a first start the agent may still be starting its
      // nginx. The URL is printed once it answers, so that opening it at once works.
      const host = new URL(r.url).hostname;
      await waitFor("nginx", async () => ((await fetch(`http://${httpAddr}/`, { headers: { host }, signal: AbortSignal.timeout(2000) }).catch(() => null))?.status === 200 ? true : undefined), 30_000);

      process.stdout.write(`
${green("🌱 Sprout is up.")}

  Example site:  ${bold(r.url)}
  Admin UI:      ${master}  (log in with the admin below)
  Admin login:   ${ADMIN_EMAIL}${firstRun ? `  password: ${password}  (shown once, not stored: keep it)` : "  (password shown on the first run)"}
  CLI login:     ${profile}
  Logs:          ${join(data, "logs")}

Deploy your own site from another terminal:
  sprout deploy ./dist --site my-site --prod

Press Ctrl-C to stop.
`);
      const exited = Promise.race(children.map((p) => p.exited.then((code) => `a child process exited (code ${code}); see ${join(data, "logs")}`)));
      waiting = true;
      const why = await Promise.race([signalled, exited]);
      if (why !== "SIGINT" && why !== "SIGTERM") info(why);
      info("Stopping...");
      await stopAll();
      return why === "SIGINT" || why === "SIGTERM" ? 0 : 1;
    } catch (e) {
      await stopAll();
      throw e;
    }
  }),
};
