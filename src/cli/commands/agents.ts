import { UsageError, unknownSubcommand, type Command, type Values } from "../../shared/command";
import type { Rollout, UpgradeStep } from "../../protocol/upgrade";
import type { AgentCreated, AgentInfo } from "../../protocol/agent";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, action, out } from "../action";
import { ago, bytes, info, table } from "../output";

/** ENV_FILE: where install.sh keeps an agent's settings; `agents create` prints its lines. */
const ENV_FILE = "/etc/sprout-agent.env";

export const agentsCommand: Command = {
  name: "agents",
  group: "cluster",
  summary: "List nodes and gateways, add, drain or remove one, rotate its token, set where it is reached, or upgrade them all (admin)",
  usage: "agents [list | create NAME [--url URL] [--role node|gateway] [--master-url URL] | drain NAME [--undo] | remove NAME [--force] | rotate-token NAME | set-url NAME URL | upgrade [--drain] [--status] [--timeout SECONDS]] [--json]",
  options: {
    ...JSON_OPT,
    url: { type: "string", value: "URL", description: "create: where CLIs and peers reach the agent API (default: what its first heartbeat reports)" },
    role: { type: "string", value: "node|gateway", description: "create: node (default) stores and serves sites; gateway load-balances visitors to the nodes" },
    "master-url": { type: "string", value: "URL", description: "create: the master's URL as the new node reaches it (default: the one this CLI uses)" },
    force: { type: "boolean", description: "remove: even when the node holds the only copy of a site (that site is lost until deployed again)" },
    undo: { type: "boolean", description: "drain: put the node back in service" },
    drain: { type: "boolean", description: "upgrade: drain each node first (its sites get replicas on other nodes, so one-replica sites stay served), and put it back after" },
    status: { type: "boolean", description: "upgrade: follow the rolling upgrade already running (or show the last one) instead of starting one" },
    timeout: { type: "string", value: "SECONDS", description: "upgrade: how long one agent may take to come back upgraded and ready (default 180)" },
    ...API_OPTS,
  },
  subcommands: ["list", "create", "drain", "remove", "rotate-token", "set-url", "upgrade"],
  examples: [
    "sprout agents",
    "sprout agents create node-2 --url http://10.0.0.2:7070 --master-url http://10.0.0.1:7000",
    "sprout agents create gw-1 --role gateway",
    "sprout agents drain node-2            # its sites are copied to other nodes",
    "sprout agents remove node-2           # once `sprout agents` shows it drained",
    "sprout agents rotate-token node-2",
    "sprout agents set-url node-2 http://10.0.0.7:7070",
    "sprout agents upgrade                 # every agent to the master's version, one at a time",
    "sprout agents upgrade --drain         # each node drained first: one-replica sites stay served",
  ],
  run: action(async (v, pos) => {
    const api = Api.fromEnv(v);
    const [sub = "list", name, url] = pos;
    const need = (what: string) => {
      if (!name) throw new UsageError(`agents ${sub} needs a NAME`);
      return `/api/agent/${encodeURIComponent(name)}${what}`;
    };
    if (sub === "list") {
      const list = await api.call<AgentInfo[]>("GET", "/api/agents");
      return out(v, list, () =>
        table(
          ["NAME", "ROLE", "STATUS", "URL", "HEARTBEAT", "SITES", "CPU", "DISK FREE", "NGINX", "VERSION"],
          list.map((a) => {
            // Measures of a node that is not online are its last heartbeat's: say how old they are.
            const stale = a.status !== "online" && a.system && a.last_heartbeat_at ? ` (stale, ${ago(a.last_heartbeat_at)})` : "";
            return [
              a.name,
              a.role,
              a.status + (a.draining ? (a.sites_waiting ? `, draining (${a.sites_waiting} site(s) to copy)` : ", drained: ready to remove") : ""),
              (a.url ?? "") + (a.url_mismatch ? ` (reports ${a.reported_url}: sprout agents set-url ${a.name} URL)` : ""),
              a.last_heartbeat_at ? ago(a.last_heartbeat_at) : "never",
              String(a.sites),
              a.system ? `${a.system.cpu_percent}%${stale}` : "",
              a.system ? `${bytes(a.system.disk_free)}${stale}` : "",
              a.system ? (stale ? `unknown${stale}` : a.system.nginx) : "",
              a.version ?? "",
            ];
          }),
        ),
      );
    }
    if (sub === "create") {
      if (!name) throw new UsageError("agents create needs a NAME");
      const agentUrl = typeof v.url === "string" ? v.url.replace(/\/+$/, "") : null;
      const masterUrl = typeof v["master-url"] === "string" ? v["master-url"].replace(/\/+$/, "") : api.master;
      if (isLoopback(masterUrl))
        process.stderr.write(`warning: the master is at ${masterUrl} here, which another machine cannot reach. Pass --master-url with an address the node reaches (and run the master with --listen on it, e.g. 0.0.0.0:7000).\n`);
      if (v.role !== undefined && v.role !== "node" && v.role !== "gateway") throw new UsageError("--role must be node or gateway");
      const role = v.role === "gateway" ? "gateway" : "node";
      if (agentUrl?.startsWith("http://") && !isLoopback(agentUrl))
        process.stderr.write(`warning: ${agentUrl} is plain HTTP: upload grants would cross the network in clear. Prefer https:// (the node serves HTTPS with a self-signed certificate whose pin the master hands out).\n`);
      const a = await api.call<AgentCreated>("POST", "/api/agent", { name, ...(agentUrl ? { url: agentUrl } : {}), ...(role === "gateway" ? { role } : {}) });
      const port = agentUrl ? new URL(agentUrl).port || (agentUrl.startsWith("https:") ? "443" : "80") : "7070";
      // The token goes in a file only root reads, never on a command line (visible in `ps`).
      // A self-signed master is reached by its pin: the one this CLI itself checked.
      const pin = api.pin;
      const env = [
        `SPROUT_MASTER=${masterUrl}`,
        ...(pin ? [`SPROUT_MASTER_PIN=${pin}`] : []),
        `SPROUT_AGENT_TOKEN=${a.token}`,
        `SPROUT_AGENT_NAME=${a.name}`,
        `SPROUT_AGENT_ROLE=${role}`,
        `SPROUT_AGENT_LISTEN=0.0.0.0:${port}`,
        `SPROUT_AGENT_URL=${agentUrl ?? `https://NODE-ADDRESS:${port}`}`,
        // The admin asked for a plain HTTP address: the node serves its API so (it serves HTTPS otherwise).
        ...(agentUrl?.startsWith("http://") ? ["SPROUT_AGENT_TLS=off"] : []),
        "SPROUT_HTTP_LISTEN=0.0.0.0:8080",
        "SPROUT_AGENT_DATA=/var/lib/sprout",
      ];
      return out(v, a, () =>
        [
          `Agent ${a.name} (${a.id}) created. Its token is shown only now.`,
          "",
          "On the node, as root, one line installs nginx, the binary (from this master, checked), a systemd",
          "service and this token in a 0600 file:",
          "",
          `  curl -fsSL ${pin ? `-k --pinnedpubkey '${pin}' ` : ""}${masterUrl}/install.sh | sudo sh -s -- ${pin ? `--master-pin '${pin}' ` : ""}--token ${a.token} --name ${a.name}${role === "gateway" ? " --role gateway" : ""}${agentUrl ? ` --public-url ${agentUrl}` : ""}`,
          "",
          "Or by hand:",
          `save these lines as ${ENV_FILE} (chmod 600)${agentUrl ? "" : ", with NODE-ADDRESS the address other machines reach it at"}:`,
          "",
          ...env,
          "",
          "then start the agent with them:",
          "",
          `  sh -c 'set -a; . ${ENV_FILE}; exec sprout agent'`,
          "",
          "",
        ].join("\n"),
      );
    }
    if (sub === "set-url") {
      if (!name || !url) throw new UsageError("agents set-url needs a NAME and a URL");
      const a = await api.call<AgentInfo>("POST", need("/url"), { url });
      return out(v, a, () => `Agent ${a.name} is reached at ${a.url} from now on.\n`);
    }
    if (sub === "drain") {
      const a = await api.call<AgentInfo>("POST", need("/drain"), { undo: v.undo === true });
      return out(v, a, () =>
        a.draining
          ? `Agent ${a.name} is draining: it takes no new sites, and its ${a.sites} site(s) are being copied to other nodes. \`sprout agents\` shows it "drained" when it can be removed.\n`
          : `Agent ${a.name} is back in service.\n`,
      );
    }
    if (sub === "remove") {
      const path = need(v.force === true ? "?force=true" : "");
      const r = await api.call<{ ok: true }>("DELETE", path);
      return out(v, r, () => `Agent ${name} removed: its token no longer works, and its sites get new replicas on the other nodes.\n`);
    }
    if (sub === "rotate-token") {
      const a = await api.call<AgentCreated>("POST", need("/token"));
      return out(v, a, () =>
        [
          `Agent ${a.name} has a new token; the old one stopped working, so the running agent stops too.`,
          `Replace this line in ${ENV_FILE} on the node (shown only now), then start the agent again:`,
          "",
          `SPROUT_AGENT_TOKEN=${a.token}`,
          "",
        ].join("\n"),
      );
    }
    if (sub === "upgrade") return rollingUpgrade(api, v);
    throw unknownSubcommand(agentsCommand, sub);
  }),
};

/**
 * rollingUpgrade starts (or, with --status, follows) the master's rolling upgrade of its agents,
 * printing each agent's progress on stderr as it happens, and the outcome on stdout. Exits 1 when
 * an agent failed (the rollout stops there).
 */
async function rollingUpgrade(api: Api, v: Values): Promise<number> {
  let timeout: number | undefined;
  if (v.timeout !== undefined) {
    timeout = Number(v.timeout);
    if (!Number.isInteger(timeout) || timeout < 10 || timeout > 3600) throw new UsageError("--timeout must be a whole number of seconds from 10 to 3600");
  }
  let r = v.status === true ? await api.call<Rollout>("GET", "/api/agents/upgrade") : await api.call<Rollout>("POST", "/api/agents/upgrade", { ...(timeout ? { timeout } : {}), ...(v.drain === true ? { drain: true } : {}) });
  const said = new Map<string, string>();
  for (;;) {
    for (const s of r.steps) {
      if (said.get(s.agent) === s.status) continue;
      said.set(s.agent, s.status);
      if (!v.json) info(`${s.agent} (${s.role}): ${stepWords(s, r.version)}`);
    }
    if (r.status !== "running") break;
    await Bun.sleep(1000);
    r = await api.call<Rollout>("GET", "/api/agents/upgrade");
  }
  out(v, r, () => (r.status === "done" ? `Every agent that was online runs sprout ${r.version}.\n` : `Rolling upgrade stopped: ${r.error}\n`));
  return r.status === "done" ? 0 : 1;
}

function stepWords(s: UpgradeStep, version: string): string {
  switch (s.status) {
    case "waiting": return `waiting (runs ${s.from ?? "?"})`;
    case "draining": return `draining (its sites get their replicas on other nodes)`;
    case "upgrading": return `upgrading ${s.from ?? "?"} -> ${version}`;
    case "done": return `runs ${version}, ready`;
    case "current": return `already runs ${version}`;
    case "skipped": return `skipped: ${s.error ?? ""}`;
    case "failed": return `failed: ${s.error ?? ""}`;
  }
}

/** isLoopback tells whether a URL's host answers only on the machine itself. */
function isLoopback(url: string): boolean {
  try {
    const h = new URL(url).hostname;
    return h === "localhost" || h.startsWith("127.") || h === "[::1]" || h === "::1";
  } catch {
    return false;
  }
}
