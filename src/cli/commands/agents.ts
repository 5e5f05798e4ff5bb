import { UsageError, type Command } from "../command";
import type { AgentCreated, AgentInfo } from "../../protocol/agent";
import { Api } from "../api";
import { JSON_OPT, action, out } from "../action";
import { ago, bytes, table } from "../output";

export const agentsCommand: Command = {
  name: "agents",
  group: "cluster",
  summary: "List nodes, or add one (admin)",
  usage: "agents [list | create NAME] [--json]",
  options: { ...JSON_OPT },
  examples: ["sprout agents", "sprout agents create node-2"],
  run: action(async (v, pos) => {
    const api = Api.fromEnv();
    const [sub = "list", name] = pos;
    if (sub === "list") {
      const list = await api.call<AgentInfo[]>("GET", "/api/agents");
      return out(v, list, () =>
        table(["NAME", "STATUS", "URL", "HEARTBEAT", "CPU", "DISK FREE", "NGINX", "VERSION"], list.map((a) => [a.name, a.status, a.url ?? "", a.last_heartbeat_at ? ago(a.last_heartbeat_at) : "never", a.system ? `${a.system.cpu_percent}%` : "", a.system ? bytes(a.system.disk_free) : "", a.system?.nginx ?? "", a.version ?? ""])),
      );
    }
    if (sub === "create") {
      if (!name) throw new UsageError("agents create needs a NAME");
      const a = await api.call<AgentCreated>("POST", "/api/agent", { name });
      return out(v, a, () => `Agent ${a.name} (${a.id}) created. Its token is shown only now.\nStart it on the node with:\n  sprout agent --master ${api.master} --token ${a.token} --name ${a.name}\n`);
    }
    throw new UsageError(`unknown subcommand "${sub}"`);
  }),
};
