import type { Command } from "../../shared/command";
import type { DeploymentInfo } from "../../protocol/deployment";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, SITE_OPT, action, out, siteFlag } from "../action";
import { ago, bytes, oneLine, table } from "../output";

/** deploymentsTable renders deployments for people, newest first, with their messages. */
export function deploymentsTable(list: DeploymentInfo[]): string {
  return table(
    ["ID", "STATUS", "PROD", "FILES", "SIZE", "CREATED", "MESSAGE", "PREVIEW"],
    list.map((d) => [d.id, d.status, d.is_production ? "*" : "", String(d.files_total), bytes(d.bytes_total), ago(d.created_at), oneLine(d.message ?? "", 48), d.preview_url]),
  );
}

export const deploymentsCommand: Command = {
  name: "deployments",
  group: "sites",
  summary: "List a site's deployments, newest first, with their messages",
  usage: "deployments [--site NAME] [--json]",
  options: { ...SITE_OPT, ...JSON_OPT, ...API_OPTS },
  examples: ["sprout deployments --site blog", "sprout deployments --json | jq -r '.[0].id'"],
  run: action(async (v) => {
    const list = await Api.fromEnv(v).call<DeploymentInfo[]>("GET", `/api/site/${encodeURIComponent(siteFlag(v))}/deployments`);
    out(v, list, () => (list.length ? deploymentsTable(list) : "No deployments yet.\n"));
  }),
};
