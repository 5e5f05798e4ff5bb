import type { Command } from "../../shared/command";
import { Api } from "../api";
import { PROFILE_OPT, action } from "../action";
import { loadStore, removeProfile, selectProfile } from "../credentials";

export const logoutCommand: Command = {
  name: "logout",
  group: "account",
  summary: "Revoke this machine's session on a master and forget it (the current profile, or --profile)",
  usage: "logout [--profile NAME]",
  options: { ...PROFILE_OPT },
  examples: ["sprout logout", "sprout logout --profile staging"],
  run: action(async (v) => {
    const sel = selectProfile(loadStore(), { name: typeof v.profile === "string" ? v.profile : undefined });
    if (!sel) {
      process.stderr.write("Not logged in.\n");
      return;
    }
    await new Api(sel.profile.master, null, null).call("POST", "/api/token/revoke", { refresh_token: sel.profile.refresh_token }, false).catch(() => {});
    await removeProfile(sel.name);
    process.stderr.write(`Logged out of ${sel.profile.master} (profile ${sel.name}).\n`);
  }),
};
