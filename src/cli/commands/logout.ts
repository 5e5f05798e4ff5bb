import type { Command } from "../command";
import { Api } from "../api";
import { action } from "../action";
import { clearCredentials, loadCredentials } from "../credentials";

export const logoutCommand: Command = {
  name: "logout",
  group: "account",
  summary: "Revoke this machine's session and forget it",
  usage: "logout",
  options: {},
  examples: ["sprout logout"],
  run: action(async () => {
    const c = loadCredentials();
    if (c) await new Api(c.master, null, null).call("POST", "/api/token/revoke", { refresh_token: c.refresh_token }, false).catch(() => {});
    process.stderr.write(clearCredentials() ? "Logged out.\n" : "Not logged in.\n");
  }),
};
