import type { Command } from "../../shared/command";
import type { UserInfo } from "../../protocol/user";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, action, out } from "../action";

export const whoamiCommand: Command = {
  name: "whoami",
  group: "account",
  summary: "Show the account you are logged in as",
  usage: "whoami [--json]",
  options: { ...JSON_OPT, ...API_OPTS },
  examples: ["sprout whoami"],
  run: action(async (v) => {
    const api = Api.fromEnv(v);
    const me = await api.call<UserInfo>("GET", "/api/user/info");
    out(v, { ...me, master: api.master, profile: api.profile }, () => `${me.email}${me.is_admin ? " (admin)" : ""} on ${api.master}${api.profile ? ` (profile ${api.profile})` : ""}\n`);
  }),
};
