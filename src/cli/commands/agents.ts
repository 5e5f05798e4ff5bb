import { UsageError, unknownSubcommand, type Command } from "../../shared/command";
import type { AgentCreated, AgentInfo } from "../../protocol/agent";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, action, out } from "../action";
import { ago, bytes, table } from "../output";

export const agentsCommand: Command = {
  name: "agents",
  group: "cluster",
  summary: "List nodes, add one, or set where one is reached (admin)",
  usage: "agents [list | create NAME [--url URL] [--role node|gateway] | set-url NAME URL] [--json]",
  options: {
    ...JSON_OPT,
    url: { type: "string", value: "URL", description: "Where CLIs and peers reach the agent API (default: what its first heartbeat reports)" },
    role: { type: "string", value: "node|gateway", description: "node (default) stores and serves sites; gateway load-balances visitors to the nodes" },
    ...API_OPTS,
  },
  subcommands: ["list", "create", "set-url"],
  examples: ["sprout agents", "sprout agents create node-2 --url http://10.0.0.2:7070", "sprout agents create gw-1 --role gateway", "sprout agents set-url node-2 http://10.0.0.7:7070"],
  run: action(async (v, pos) => {
    const api = Api.fromEnv(v);
    const [sub = "list", name, url] = pos;
    if (sub === "list") {
      const list = await api.call<AgentInfo[]>("GET", "/api/agents");
      return out(v, list, () =>
        table(
          ["NAME", "ROLE", "STATUS", "URL", "HEARTBEAT", "CPU", "DISK FREE", "NGINX", "VERSION"],
          list.map((a) => [a.name, a.role, a.status, (a.url ?? "") + (a.url_mismatch ? ` (reports ${a.reported_url}: sprout agents set-url ${a.name} URL)` : ""), a.last_heartbeat_at ? ago(a.last_heartbeat_at) : "never", a.system ? `${a.system.cpu_percent}%` : "", a.system ? bytes(a.system.disk_free) : "", a.system?.nginx ?? "", a.version ?? ""]),
        ),
      );
    }
    if (sub === "create") {
      if (!name) throw new UsageError("agents create needs a NAME");
      if (v.role !== undefined && v.role !== "node" && v.role !== "gateway") throw new UsageError("--role must be node or gateway");
      const a = await api.call<AgentCreated>("POST", "/api/agent", { name, ...(typeof v.url === "string" ? { url: v.url } : {}), ...(v.role === "gateway" ? { role: "gateway" } : {}) });
      const listen = (typeof v.url === "string" ? ` --public-url ${v.url}` : "") + (v.role === "gateway" ? " --role gateway" : "");
      return out(v, a, () => `Agent ${a.name} (${a.id}) created. Its token is shown only now.\nStart it on the node with:\n  SPROUT_AGENT_TOKEN=${a.token} sprout agent --master ${api.master} --name ${a.name}${listen}\n`);
    }
    if (sub === "set-url") {
      if (!name || !url) throw new UsageError("agents set-url needs a NAME and a URL");
      const a = await api.call<AgentInfo>("POST", `/api/agent/${encodeURIComponent(name)}/url`, { url });
      return out(v, a, () => `Agent ${a.name} is reached at ${a.url} from now on.\n`);
    }
    throw unknownSubcommand(agentsCommand, sub);
  }),
};
