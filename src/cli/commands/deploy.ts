import type { Command } from "../command";
import { Api } from "../api";
import { JSON_OPT, action, siteFlag } from "../action";
import { deploy } from "../deploy-flow";
import { bold, green, red } from "../output";

export const deployCommand: Command = {
  name: "deploy",
  group: "sites",
  summary: "Publish a built folder (creates the site if you have none of that name)",
  usage: "deploy [DIR] --site NAME [--prod] [--json]",
  options: {
    site: { type: "string", short: "s", value: "NAME", description: "The site to deploy to", env: "SPROUT_SITE" },
    prod: { type: "boolean", description: "Go live on the production URL (default: a preview)" },
    ...JSON_OPT,
  },
  examples: ["sprout deploy ./dist --site blog --prod", "sprout deploy build --site blog        # a preview at <id>--blog.<domain>", "SPROUT_MASTER=https://sprout.example.com SPROUT_TOKEN=spt_... sprout deploy dist --site blog --prod --json",
    "printf 'drafts/\\n*.map\\n' > dist/.sproutignore   # gitignore syntax; .well-known/ is the only dot-folder published",
  ],
  run: action(async (v, pos) => {
    const name = siteFlag(v);
    const r = await deploy(Api.fromEnv(), pos[0] ?? ".", name, Boolean(v.prod));
    const ok = r.status === "ready" && (!v.prod || r.is_production);
    if (v.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    else if (ok) process.stdout.write(`${green("✔")} ${bold(r.is_production ? "Live" : "Preview ready")}\n${r.is_production ? `  Production: ${r.url}\n` : ""}  Preview:    ${r.preview_url}\n`);
    else process.stdout.write(`${red("✘")} Deployment ${r.deployment_id} ${r.status}${r.error ? `: ${r.error}` : ""}\n`);
    return ok ? 0 : 1;
  }),
};
