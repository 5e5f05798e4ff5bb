import type { Command } from "../command";
import type { UserInfo } from "../../protocol/user";
import { Api } from "../api";
import { JSON_OPT, action, out } from "../action";

export const whoamiCommand: Command = {
  name: "whoami",
  group: "account",
  summary: "Show the account you are logged in as",
  usage: "whoami [--json]",
  options: { ...JSON_OPT },
  examples: ["sprout whoami"],
  run: action(async (v) => {
    const api = Api.fromEnv();
    const me = await api.call<UserInfo>("GET", "/api/user/info");
    out(v, me, () => `${me.email}${me.is_admin ? " (admin)" : ""} on ${api.master}\n`);
  }),
};
