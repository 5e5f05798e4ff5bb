import type { Command } from "../command";
import type { DeploymentInfo } from "../../protocol/deployment";
import { Api } from "../api";
import { JSON_OPT, action, siteFlag } from "../action";
import { follow } from "../deploy-flow";
import { green } from "../output";

/** moveProduction asks the master to activate a deployment and waits until production serves it. */
export async function moveProduction(path: string, body: object, json: boolean): Promise<number> {
  const api = Api.fromEnv();
  const d = await api.call<DeploymentInfo>("POST", path, body);
  const final = await follow(api, d.id, true, () => {}, 60_000);
  if (json) process.stdout.write(`${JSON.stringify(final, null, 2)}\n`);
  else process.stdout.write(`${green("✔")} ${final.site} now serves ${final.id}: ${final.url}\n`);
  return final.is_production ? 0 : 1;
}

export const rollbackCommand: Command = {
  name: "rollback",
  group: "sites",
  summary: "Put an earlier deployment back on production (default: the previous one)",
  usage: "rollback --site NAME [DEPLOYMENT_ID] [--json]",
  options: { site: { type: "string", short: "s", value: "NAME", description: "The site", env: "SPROUT_SITE" }, ...JSON_OPT },
  examples: ["sprout rollback --site blog", "sprout rollback --site blog 0a1b2c3d4e5f6g"],
  run: action(async (v, pos) => moveProduction(`/api/site/${siteFlag(v)}/rollback`, pos[0] ? { deployment_id: pos[0] } : {}, Boolean(v.json))),
};
