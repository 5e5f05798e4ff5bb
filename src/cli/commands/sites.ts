import { UsageError, unknownSubcommand, type Command } from "../../shared/command";
import type { SiteInfo } from "../../protocol/site";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, action, out } from "../action";
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
  usage: "sites [list | NAME | create NAME [--spa true] [--replicas N] | set NAME [--spa true|false] [--replicas N] [--keep-http true|false] [--hsts true|false] | delete NAME --yes] [--json]",
  options: {
    spa: { type: "string", value: "true|false", description: "Single-page app: unknown paths serve index.html" },
    replicas: { type: "string", value: "N", description: "How many nodes serve the site (default 2)" },
    "keep-http": { type: "string", value: "true|false", description: "Keep serving the site's custom domains over plain HTTP once they have a certificate (default: redirect to HTTPS)" },
    hsts: { type: "string", value: "true|false", description: "Send Strict-Transport-Security (one year) with the site's HTTPS answers: browsers then refuse HTTP for it" },
    yes: { type: "boolean", description: "Confirm deleting a site" },
    ...JSON_OPT,
    ...API_OPTS,
  },
  subcommands: ["list", "create", "set", "delete"],
  examples: ["sprout sites", "sprout sites blog", "sprout sites create blog", "sprout sites set app --spa true", "sprout sites set blog --replicas 3", "sprout sites set blog --hsts true", "sprout sites delete blog --yes"],
  run: action(async (v, pos) => {
    const api = Api.fromEnv(v);
    const [sub = "list", name] = pos;
    const need = () => {
      if (!name) throw new UsageError(`sites ${sub} needs a site NAME`);
      return name;
    };
    if (sub === "list") {
      const list = await api.all<SiteInfo>("/api/sites");
      return out(v, list, () => (list.length ? table(["NAME", "URL", "SPA", "CREATED"], list.map((s) => [s.name, s.url, s.settings.spa ? "yes" : "", ago(s.created_at)])) : "No sites yet. Deploy one: sprout deploy ./dist --site NAME --prod\n"));
    }
    const replicas = () => {
      if (v.replicas === undefined) return {};
      const n = Number(v.replicas);
      if (!Number.isInteger(n) || n < 1 || n > 16) throw new UsageError("--replicas must be a whole number from 1 to 16");
      return { replicas: n };
    };
    if (sub === "create") {
      const s = await api.call<SiteInfo>("POST", "/api/site", { name: need(), ...(v.spa !== undefined ? { spa: bool(v.spa, "--spa") } : {}), ...replicas() });
      return out(v, s, () => `Created ${s.name}: ${s.url}\n`);
    }
    if (sub === "set") {
      if (v.spa === undefined && v.replicas === undefined && v["keep-http"] === undefined && v.hsts === undefined)
        throw new UsageError("sites set needs a setting, e.g. --spa true, --replicas 3 or --hsts true");
      const s = await api.call<SiteInfo>("PATCH", `/api/site/${need()}`, {
        ...(v.spa !== undefined ? { spa: bool(v.spa, "--spa") } : {}),
        ...(v["keep-http"] !== undefined ? { keep_http: bool(v["keep-http"], "--keep-http") } : {}),
        ...(v.hsts !== undefined ? { hsts: bool(v.hsts, "--hsts") } : {}),
        ...replicas(),
      });
      return out(v, s, () => `${s.name}: spa ${s.settings.spa}, replicas ${s.replicas}, keep-http ${s.settings.keep_http ?? false}, hsts ${s.settings.hsts ?? false}\n`);
    }
    if (sub === "delete") {
      if (!v.yes) throw new UsageError(`deleting ${need()} removes it from every node; add --yes to confirm`);
      await api.call("DELETE", `/api/site/${need()}`);
      return out(v, { ok: true }, () => `Deleted ${name}.\n`);
    }
    if (!name) {
      // `sprout sites NAME`: one site, with the nodes that hold it.
      const s = await api.call<SiteInfo>("GET", `/api/site/${encodeURIComponent(sub)}`);
      return out(v, s, () =>
        `${s.name}  ${s.url}\nproduction ${s.production_deployment_id ?? "(none yet)"}, spa ${s.settings.spa}, replicas ${s.replicas}\n` +
        (s.nodes.length ? table(["NODE", "STATUS", "SERVING"], s.nodes.map((n) => [n.name, n.status, n.up_to_date ? "production" : "catching up"])) : "No node holds it yet.\n"));
    }
    throw unknownSubcommand(sitesCommand, sub);
  }),
};
