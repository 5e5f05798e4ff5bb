import { UsageError, unknownSubcommand, type Command } from "../../shared/command";
import { SproutError } from "../../shared/errors";
import { JSON_OPT, action, out } from "../action";
import { loadStore, removeProfile, saveStore, withCredentialsLock } from "../credentials";
import { table } from "../output";
import { Api } from "../api";

export const profilesCommand: Command = {
  name: "profiles",
  group: "account",
  summary: "Your saved logins, one per master: list, choose the default, remove",
  usage: "profiles [list | use NAME | remove NAME] [--json]",
  options: { ...JSON_OPT },
  subcommands: ["list", "use", "remove"],
  examples: ["sprout profiles", "sprout profiles use prod", "sprout deploy --profile staging", "SPROUT_PROFILE=staging sprout sites"],
  run: action(async (v, pos) => {
    const [sub = "list", name] = pos;
    if (sub === "list") {
      const s = loadStore();
      // Names, masters and emails only: the tokens stay in the file.
      const list = Object.entries(s.profiles).map(([n, p]) => ({ name: n, master: p.master, email: p.email, current: n === s.current }));
      return out(v, list, () => (list.length ? table(["", "NAME", "MASTER", "EMAIL"], list.map((p) => [p.current ? "*" : "", p.name, p.master, p.email])) : "No profiles yet: run `sprout login`.\n"));
    }
    if (!name) throw new UsageError(`profiles ${sub} needs a profile NAME`);
    if (sub === "use") {
      const p = await withCredentialsLock(() => {
        const s = loadStore();
        const found = s.profiles[name];
        if (!found) throw new SproutError(404, "no_profile", `There is no profile "${name}".`, `See them with \`sprout profiles\`.`);
        s.current = name;
        saveStore(s);
        return found;
      });
      return out(v, { name, master: p.master, email: p.email, current: true }, () => `Now using ${name}: ${p.email} on ${p.master}.\n`);
    }
    if (sub === "remove") {
      const p = await removeProfile(name);
      if (!p) throw new SproutError(404, "no_profile", `There is no profile "${name}".`, `See them with \`sprout profiles\`.`);
      await new Api(p.master, null, null).call("POST", "/api/token/revoke", { refresh_token: p.refresh_token }, false).catch(() => {});
      return out(v, { ok: true }, () => `Removed ${name} (its session on ${p.master} is revoked).\n`);
    }
    throw unknownSubcommand(profilesCommand, sub);
  }),
};
