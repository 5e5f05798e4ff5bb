import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import type { Command } from "../command";
import type { AgentCreated, AgentInfo } from "../../protocol/agent";
import type { TokenPair } from "../../protocol/user";
import { newSecret } from "../../shared/ids";
import { parseListen, waitForSignal } from "../../shared/listen";
import { Api } from "../api";
import { action } from "../action";
import { saveCredentials } from "../credentials";
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
    try {
      spawn("master", ["master", "--listen", masterAddr, "--data", join(data, "master"), "--domain", String(v.domain)]);
      await waitFor("The master", async () => ((await fetch(`${master}/api/health`)).ok ? true : undefined));

      // The admin: created on the first run, its password kept (0600) so later runs log in again.
      const adminFile = join(data, "admin.json");
      let admin = existsSync(adminFile) ? (JSON.parse(readFileSync(adminFile, "utf8")) as { email: string; password: string }) : null;
      const anon = new Api(master, null, null);
      let firstRun = false;
      if (!admin) {
        admin = { email: "admin@sprout.localhost", password: newSecret(12) };
        await anon.call("POST", "/api/user", admin, false);
        writeFileSync(adminFile, JSON.stringify(admin), { mode: 0o600 });
        firstRun = true;
      }
      const pair = await anon.call<TokenPair>("POST", "/api/user/token", admin, false);
      saveCredentials({ master, email: admin.email, access_token: pair.access_token, refresh_token: pair.refresh_token });
      const api = new Api(master, pair.access_token, null);

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
      spawn("agent", ["agent", "--master", master, "--name", agent.name, "--listen", agentAddr, "--http-listen", httpAddr, "--data", join(data, "agent")], { SPROUT_AGENT_TOKEN: agent.token });
      await waitFor("The agent", async () => ((await api.call<AgentInfo[]>("GET", "/api/agents")).some((a) => a.id === agent!.id && a.status === "online" && a.url === `http://${agentAddr}`) ? true : undefined));

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

      process.stdout.write(`
${green("🌱 Sprout is up.")}

  Example site:  ${bold(r.url)}
  Admin UI:      ${master}  (log in with the admin below)
  Admin login:   ${admin.email}${firstRun ? `  password: ${admin.password}  (shown once; kept in ${adminFile})` : `  (password in ${adminFile})`}
  Logs:          ${join(data, "logs")}

Deploy your own site from another terminal:
  sprout deploy ./dist --site my-site --prod

Press Ctrl-C to stop.
`);
      const exited = Promise.race(children.map((p) => p.exited.then((code) => `a child process exited (code ${code}); see ${join(data, "logs")}`)));
      const why = await Promise.race([waitForSignal(), exited]);
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
