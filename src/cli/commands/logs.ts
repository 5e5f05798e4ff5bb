import type { Command } from "../../shared/command";
import type { DeploymentEvent, DeploymentInfo } from "../../protocol/deployment";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, SITE_OPT, action, siteFlag } from "../action";
import { follow } from "../deploy-flow";
import { dim, red } from "../output";

const line = (e: DeploymentEvent) => `${e.at.slice(0, 23).replace("T", " ")} ${e.level === "error" ? red(e.message) : e.message}${e.agent ? dim(` [${e.agent}]`) : ""}\n`;

export const logsCommand: Command = {
  name: "logs",
  group: "sites",
  summary: "Show a deployment's log (default: the site's latest), and follow it until it is done",
  usage: "logs [DEPLOYMENT_ID] [--site NAME] [--follow] [--json]",
  options: {
    follow: { type: "boolean", short: "f", description: "Keep printing new lines until the deployment is ready or failed" },
    ...SITE_OPT,
    ...JSON_OPT,
    ...API_OPTS,
  },
  examples: ["sprout logs 0a1b2c3d4e5f6g", "sprout logs --follow", "sprout logs 0a1b2c3d4e5f6g --json"],
  run: action(async (v, pos) => {
    const api = Api.fromEnv(v);
    let id = pos[0];
    if (!id) {
      const list = await api.call<DeploymentInfo[]>("GET", `/api/site/${encodeURIComponent(siteFlag(v))}/deployments`);
      if (!list[0]) {
        process.stderr.write("No deployments yet.\n");
        return 1;
      }
      id = list[0].id;
    }
    const d = await api.call<DeploymentInfo>("GET", `/api/deployment/${encodeURIComponent(id)}`);
    const events = d.events ?? [];
    if (!v.json) for (const e of events) process.stdout.write(line(e));
    let final = d;
    if (v.follow && d.status !== "ready" && d.status !== "failed") {
      const seen: DeploymentEvent[] = [];
      final = await follow(api, id, d.production, () => {}, 3_600_000, events.at(-1)?.id ?? 0, (e) => {
        seen.push(e);
        if (!v.json) process.stdout.write(line(e));
      });
      final = { ...final, events: [...events, ...seen] };
    }
    if (v.json) process.stdout.write(`${JSON.stringify({ ...final, events: final.events ?? events }, null, 2)}\n`);
    return final.status === "failed" ? 1 : 0;
  }),
};
