import { UsageError, type Command } from "../../shared/command";
import { API_OPTS, JSON_OPT, SITE_OPT, action, siteFlag } from "../action";
import { moveProduction } from "./rollback";

export const promoteCommand: Command = {
  name: "promote",
  group: "sites",
  summary: "Put a ready deployment (e.g. a preview) on production",
  usage: "promote [--site NAME] DEPLOYMENT_ID [--json]",
  options: { ...SITE_OPT, ...JSON_OPT, ...API_OPTS },
  examples: ["sprout promote --site blog 0a1b2c3d4e5f6g"],
  run: action(async (v, pos) => {
    if (!pos[0]) throw new UsageError("DEPLOYMENT_ID is required");
    return moveProduction(`/api/site/${siteFlag(v)}/promote`, { deployment_id: pos[0] }, v);
  }),
};
