import { UsageError, type Command } from "../../shared/command";
import type { SiteInfo } from "../../protocol/site";
import { settled } from "../../shared/settled";
import { SproutError } from "../../shared/errors";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, SITE_OPT, action, siteFlag } from "../action";
import { deploy } from "../deploy-flow";
import { bold, dim, green, info, red, yellow } from "../output";
import { findProject, type Project } from "../project";
import { choosePublishFolder } from "../publish-folder";

/**
 * applySiteSettings makes the site's settings what sprout.json says (spa, replicas) before the
 * deploy: it creates the site with them when it is new, and changes only what differs.
 */
async function applySiteSettings(api: Api, site: string, project: Project | null): Promise<void> {
  const want = { ...(project?.data.spa !== undefined ? { spa: project.data.spa } : {}), ...(project?.data.replicas !== undefined ? { replicas: project.data.replicas } : {}) };
  if (!Object.keys(want).length) return;
  let current: SiteInfo | null = null;
  try {
    current = await api.call<SiteInfo>("GET", `/api/site/${encodeURIComponent(site)}`);
  } catch (e) {
    if (!(e instanceof SproutError) || e.status !== 404) throw e;
  }
  if (!current) {
    await api.call<SiteInfo>("POST", "/api/site", { name: site, ...want });
    info(`Created ${site} with the settings of sprout.json.`);
    return;
  }
  const change = { ...(want.spa !== undefined && want.spa !== current.settings.spa ? { spa: want.spa } : {}), ...(want.replicas !== undefined && want.replicas !== current.replicas ? { replicas: want.replicas } : {}) };
  if (!Object.keys(change).length) return;
  await api.call<SiteInfo>("PATCH", `/api/site/${encodeURIComponent(site)}`, change);
  info(`Updated ${site} to sprout.json: ${Object.entries(change).map(([k, x]) => `${k} ${x}`).join(", ")}.`);
}

export const deployCommand: Command = {
  name: "deploy",
  group: "sites",
  summary: "Publish a built folder (creates the site if you have none of that name)",
  usage: "deploy [DIR] [--site NAME] [--prod] [--message TEXT] [--json]",
  args: "dir",
  options: {
    ...SITE_OPT,
    prod: { type: "boolean", description: "Go live on the production URL (default: a preview)" },
    message: { type: "string", short: "m", value: "TEXT", description: "What this deploy is for, shown in `sprout deployments` (e.g. a commit subject)", env: "SPROUT_MESSAGE" },
    ...JSON_OPT,
    ...API_OPTS,
  },
  examples: [
    "sprout deploy                                # in a project with sprout.json (see `sprout init`)",
    "sprout deploy ./dist --site blog --prod --message \"New pricing page\"",
    "sprout deploy build --site blog        # a preview at <id>--blog.<domain>",
    "SPROUT_MASTER=https://sprout.example.com SPROUT_TOKEN=spt_... sprout deploy dist --site blog --prod --json",
    "printf 'drafts/\\n*.map\\n' > dist/.sproutignore   # gitignore syntax; .well-known/ is the only dot-folder published",
  ],
  run: action(async (v, pos) => {
    if (pos.length > 1) throw new UsageError(`deploy takes one folder; got ${pos.length} (${pos.join(", ")})`);
    const project = findProject();
    const name = siteFlag(v);
    const folder = choosePublishFolder(pos[0], project);
    info(`Publishing ${folder.shown} ${dim(`(${folder.why})`)} to ${name}`);
    const api = Api.fromEnv(v);
    await applySiteSettings(api, name, project);
    const r = await deploy(api, folder.dir, name, Boolean(v.prod), { message: typeof v.message === "string" ? v.message : undefined, ignore: project?.data.ignore, projectDir: project?.dir ?? process.cwd() });
    // Superseded: the deploy worked, and a newer production change (another deploy, a rollback)
    // took production first: not an error of this deploy, but said plainly.
    const ok = r.status !== "failed" && settled(r, Boolean(v.prod));
    if (v.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else if (ok && v.prod && !r.is_production)
      process.stdout.write(`${yellow("!")} ${bold("Ready, not live")}: a newer production change came first, so ${r.deployment_id} stays a preview.\n  Make it production with: sprout promote ${r.deployment_id} --site ${r.site}\n  Preview:    ${r.preview_url}\n`);
    else if (ok) process.stdout.write(`${green("✔")} ${bold(r.is_production ? "Live" : "Preview ready")}\n${r.is_production ? `  Production: ${r.url}\n` : ""}  Preview:    ${r.preview_url}\n`);
    else process.stdout.write(`${red("✘")} Deployment ${r.deployment_id} ${r.status}${r.error ? `: ${r.error}` : ""}\n`);
    return ok ? 0 : 1;
  }),
};
