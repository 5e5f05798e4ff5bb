import type { Command } from "../command";
import type { DeploymentInfo } from "../../protocol/deployment";
import { Api } from "../api";
import { JSON_OPT, action, out, siteFlag } from "../action";
import { ago, bytes, table } from "../output";

export const deploymentsCommand: Command = {
  name: "deployments",
  group: "sites",
  summary: "List a site's deployments, newest first",
  usage: "deployments --site NAME [--json]",
  options: { site: { type: "string", short: "s", value: "NAME", description: "The site", env: "SPROUT_SITE" }, ...JSON_OPT },
  examples: ["sprout deployments --site blog"],
  run: action(async (v) => {
    const list = await Api.fromEnv().call<DeploymentInfo[]>("GET", `/api/site/${siteFlag(v)}/deployments`);
    out(v, list, () =>
      table(["ID", "STATUS", "PROD", "FILES", "SIZE", "CREATED", "PREVIEW"], list.map((d) => [d.id, d.status, d.is_production ? "*" : "", String(d.files_total), bytes(d.bytes_total), ago(d.created_at), d.preview_url])),
    );
  }),
};
