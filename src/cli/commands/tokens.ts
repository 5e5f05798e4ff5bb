import { UsageError, type Command } from "../command";
import type { ApiTokenCreated, ApiTokenInfo } from "../../protocol/user";
import { Api } from "../api";
import { JSON_OPT, action, out } from "../action";
import { ago, table } from "../output";

export const tokensCommand: Command = {
  name: "tokens",
  group: "account",
  summary: "API tokens for CI: list, create (shown once), revoke",
  usage: "tokens [list | create NAME | revoke ID] [--json]",
  options: { ...JSON_OPT },
  examples: ["sprout tokens create github-actions", "sprout tokens", "sprout tokens revoke 0a1b2c3d4e5f6g"],
  run: action(async (v, pos) => {
    const api = Api.fromEnv();
    const [sub = "list", arg] = pos;
    if (sub === "list") {
      const list = await api.call<ApiTokenInfo[]>("GET", "/api/tokens");
      return out(v, list, () => table(["ID", "NAME", "CREATED", "LAST USED"], list.map((t) => [t.id, t.name, ago(t.created_at), t.last_used_at ? ago(t.last_used_at) : "never"])));
    }
    if (!arg) throw new UsageError(`tokens ${sub} needs an argument`);
    if (sub === "create") {
      const t = await api.call<ApiTokenCreated>("POST", "/api/tokens", { name: arg });
      return out(v, t, () => `${t.token}\n`);
    }
    if (sub === "revoke") {
      await api.call("DELETE", `/api/tokens/${arg}`);
      return out(v, { ok: true }, () => `Revoked ${arg}.\n`);
    }
    throw new UsageError(`unknown subcommand "${sub}"`);
  }),
};
