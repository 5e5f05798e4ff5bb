import { UsageError, unknownSubcommand, type Command } from "../../shared/command";
import type { ApiTokenCreate, ApiTokenCreated, ApiTokenInfo } from "../../protocol/user";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, action, out } from "../action";
import { ago, table } from "../output";

/** parseDuration reads 90s, 30m, 12h, 30d or 2w into seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+)([smhdw])$/.exec(s.trim());
  if (!m) throw new UsageError(`--expires must be a duration like 30d, 12h or 2w (got "${s}")`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as "s"];
}

export const tokensCommand: Command = {
  name: "tokens",
  group: "account",
  summary: "API tokens for CI: list, create (shown once), revoke",
  usage: "tokens [list | create NAME [--scope read|deploy|admin] [--site NAME,...] [--expires 30d] | revoke ID] [--json]",
  options: {
    scope: { type: "string", value: "read|deploy|admin", description: "What the token may do (default deploy: your sites, no admin routes)" },
    site: { type: "string", value: "NAME,...", description: "Limit a deploy token to these sites (comma-separated)" },
    expires: { type: "string", value: "DURATION", description: "Stop working after 30d, 12h, 2w... (default: until revoked)" },
    ...JSON_OPT,
    ...API_OPTS,
  },
  subcommands: ["list", "create", "revoke"],
  examples: ["sprout tokens create github-actions --site my-site --expires 90d", "sprout tokens create monitoring --scope read", "sprout tokens", "sprout tokens revoke 0a1b2c3d4e5f6g"],
  run: action(async (v, pos) => {
    const api = Api.fromEnv(v);
    const [sub = "list", arg] = pos;
    if (sub === "list") {
      const list = await api.call<ApiTokenInfo[]>("GET", "/api/tokens");
      return out(v, list, () =>
        table(["ID", "NAME", "SCOPE", "EXPIRES", "CREATED", "LAST USED"], list.map((t) => [t.id, t.name, t.sites ? `deploy: ${t.sites.join(",")}` : t.scope, t.expires_at ?? "never", ago(t.created_at), t.last_used_at ? ago(t.last_used_at) : "never"])),
      );
    }
    if (!arg) throw new UsageError(`tokens ${sub} needs an argument`);
    if (sub === "create") {
      const scope = v.scope === undefined ? undefined : String(v.scope);
      if (scope !== undefined && !["read", "deploy", "admin"].includes(scope)) throw new UsageError("--scope must be read, deploy or admin");
      const req: ApiTokenCreate = { name: arg };
      if (scope) req.scope = scope as ApiTokenCreate["scope"];
      if (typeof v.site === "string") req.sites = v.site.split(",").map((s) => s.trim()).filter(Boolean);
      if (typeof v.expires === "string") req.expires_in = parseDuration(v.expires);
      const t = await api.call<ApiTokenCreated>("POST", "/api/tokens", req);
      return out(v, t, () => `${t.token}\n`);
    }
    if (sub === "revoke") {
      await api.call("DELETE", `/api/tokens/${arg}`);
      return out(v, { ok: true }, () => `Revoked ${arg}.\n`);
    }
    throw unknownSubcommand(tokensCommand, sub);
  }),
};
