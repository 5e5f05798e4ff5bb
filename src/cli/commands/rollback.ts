import type { Command, Values } from "../../shared/command";
import type { DeploymentInfo } from "../../protocol/deployment";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, SITE_OPT, action, siteFlag } from "../action";
import { follow } from "../deploy-flow";
import { green, red } from "../output";
import { PROMOTION_REQUESTED } from "../../protocol/deployment";

/** moveProduction asks the master to activate a deployment and waits until production serves it. */
export async function moveProduction(path: string, body: object, v: Values): Promise<number> {
  const json = Boolean(v.json);
  const api = Api.fromEnv(v);
  const d = await api.call<DeploymentInfo>("POST", path, body);
  // Follow the log from this request on (the master writes its line before it asks the nodes):
  // older lines may hold errors of earlier attempts.
  const events = (await api.call<DeploymentInfo>("GET", `/api/deployment/${d.id}`)).events ?? [];
  const requested = events.filter((e) => e.message === PROMOTION_REQUESTED).at(-1)?.id ?? 1;
  const final = await follow(api, d.id, true, () => {}, 60_000, requested - 1);
  if (json) process.stdout.write(`${JSON.stringify(final, null, 2)}\n`);
  else if (final.is_production) process.stdout.write(`${green("✔")} ${final.site} now serves ${final.id}: ${final.url}\n`);
  else if (final.superseded) process.stderr.write(`${red("error:")} a newer production change came first: ${final.site} does not serve ${final.id}; see \`sprout deployments --site ${final.site}\`.\n`);
  else process.stderr.write(`${red("error:")} ${final.id} could not be put on production; see \`sprout deployments --site ${final.site}\`.\n`);
  return final.is_production ? 0 : 1;
}

export const rollbackCommand: Command = {
  name: "rollback",
  group: "sites",
  summary: "Put an earlier deployment back on production (default: the previous one)",
  usage: "rollback [--site NAME] [DEPLOYMENT_ID] [--json]",
  options: { ...SITE_OPT, ...JSON_OPT, ...API_OPTS },
  examples: ["sprout rollback --site blog", "sprout rollback --site blog 0a1b2c3d4e5f6g"],
  run: action(async (v, pos) => moveProduction(`/api/site/${siteFlag(v)}/rollback`, pos[0] ? { deployment_id: pos[0] } : {}, v)),
};
