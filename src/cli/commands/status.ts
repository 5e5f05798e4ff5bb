import type { Command } from "../../shared/command";
import type { DeploymentInfo } from "../../protocol/deployment";
import type { SiteInfo } from "../../protocol/site";
import type { UserInfo } from "../../protocol/user";
import { PROJECT_FILE } from "../../shared/project-file";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, SITE_OPT, action, out } from "../action";
import { bold } from "../output";
import { findProject } from "../project";
import { deploymentsTable } from "./deployments";

export const statusCommand: Command = {
  name: "status",
  group: "sites",
  summary: "Who you are, the site this project is linked to, what production serves, the last deploys",
  usage: "status [--site NAME] [--json]",
  options: { ...SITE_OPT, ...JSON_OPT, ...API_OPTS },
  examples: ["sprout status", "sprout status --json | jq -r .site.production_deployment_id"],
  run: action(async (v) => {
    const api = Api.fromEnv(v);
    const project = findProject();
    const name = typeof v.site === "string" && v.site ? v.site : project?.data.site;
    const me = await api.call<UserInfo>("GET", "/api/user/info");
    const site = name ? await api.call<SiteInfo>("GET", `/api/site/${encodeURIComponent(name)}`) : null;
    const deployments = site ? (await api.call<DeploymentInfo[]>("GET", `/api/site/${encodeURIComponent(site.name)}/deployments`)).slice(0, 5) : [];
    const data = {
      master: api.master,
      profile: api.profile,
      user: me.email,
      project: project ? { file: project.file, site: project.data.site ?? null, publish: project.data.publish ?? null } : null,
      site,
      deployments,
    };
    out(v, data, () => {
      const lines = [`${me.email} on ${api.master}${api.profile ? ` (profile ${api.profile})` : ""}`];
      if (project) lines.push(`Project: ${project.file}${project.data.publish ? `, publishes ${project.data.publish}` : ""}`);
      if (!site) {
        lines.push(`No site linked here: run \`sprout link NAME\` (writes ${PROJECT_FILE}) or pass --site NAME.`);
        return `${lines.join("\n")}\n`;
      }
      const prod = deployments.find((d) => d.is_production);
      lines.push(
        "",
        `${bold(site.name)}  ${site.url}`,
        `Production: ${site.production_deployment_id ?? "(none yet)"}${prod?.message ? ` "${prod.message}"` : ""}`,
        `Settings: spa ${site.settings.spa}, replicas ${site.replicas}; on ${site.nodes.map((n) => `${n.name} (${n.up_to_date ? "up to date" : "catching up"})`).join(", ") || "no node yet"}`,
        "",
        deployments.length ? `Last deploys:\n${deploymentsTable(deployments).trimEnd()}` : "No deploys yet: `sprout deploy`.",
      );
      return `${lines.join("\n")}\n`;
    });
  }),
};
