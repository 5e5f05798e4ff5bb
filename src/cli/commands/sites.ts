import { UsageError, type Command } from "../command";
import type { SiteInfo } from "../../protocol/site";
import { Api } from "../api";
import { JSON_OPT, action, out } from "../action";
import { ago, table } from "../output";

const bool = (s: unknown, flag: string) => {
  if (s === "true") return true;
  if (s === "false") return false;
  throw new UsageError(`${flag} must be true or false`);
};

export const sitesCommand: Command = {
  name: "sites",
  group: "sites",
  summary: "List, create, change or delete your sites",
  usage: "sites [list | create NAME [--spa] | set NAME --spa true|false | delete NAME --yes] [--json]",
  options: {
    spa: { type: "string", value: "true|false", description: "Single-page app: unknown paths serve index.html" },
    yes: { type: "boolean", description: "Confirm deleting a site" },
    ...JSON_OPT,
  },
  examples: ["sprout sites", "sprout sites create blog", "sprout sites set app --spa true", "sprout sites delete blog --yes"],
  run: action(async (v, pos) => {
    const api = Api.fromEnv();
    const [sub = "list", name] = pos;
    const need = () => {
      if (!name) throw new UsageError(`sites ${sub} needs a site NAME`);
      return name;
    };
    if (sub === "list") {
      const list = await api.call<SiteInfo[]>("GET", "/api/sites");
      return out(v, list, () => (list.length ? table(["NAME", "URL", "SPA", "CREATED"], list.map((s) => [s.name, s.url, s.settings.spa ? "yes" : "", ago(s.created_at)])) : "No sites yet. Deploy one: sprout deploy ./dist --site NAME --prod\n"));
    }
    if (sub === "create") {
      const s = await api.call<SiteInfo>("POST", "/api/site", { name: need(), ...(v.spa !== undefined ? { spa: bool(v.spa, "--spa") } : {}) });
      return out(v, s, () => `Created ${s.name}: ${s.url}\n`);
    }
    if (sub === "set") {
      if (v.spa === undefined) throw new UsageError("sites set needs a setting, e.g. --spa true");
      const s = await api.call<SiteInfo>("PATCH", `/api/site/${need()}`, { spa: bool(v.spa, "--spa") });
      return out(v, s, () => `${s.name}: spa ${s.settings.spa}\n`);
    }
    if (sub === "delete") {
      if (!v.yes) throw new UsageError(`deleting ${need()} removes it from every node; add --yes to confirm`);
      await api.call("DELETE", `/api/site/${need()}`);
      return out(v, { ok: true }, () => `Deleted ${name}.\n`);
    }
    throw new UsageError(`unknown subcommand "${sub}"`);
  }),
};
