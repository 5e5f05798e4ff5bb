import { relative } from "node:path";
import * as p from "@clack/prompts";
import { UsageError, type Command } from "../../shared/command";
import { PROJECT_FILE } from "../../shared/project-file";
import type { SiteInfo } from "../../protocol/site";
import { SproutError } from "../../shared/errors";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, action, out } from "../action";
import { detectGenerator } from "../detect";
import { findProject, writeProject } from "../project";

export const linkCommand: Command = {
  name: "link",
  group: "sites",
  summary: `Attach this project to an existing site (writes its name in ${PROJECT_FILE})`,
  usage: "link SITE [--json]",
  options: { ...JSON_OPT, ...API_OPTS },
  examples: ["sprout link blog", "sprout link          # choose among your sites"],
  run: action(async (v, pos) => {
    const api = Api.fromEnv(v);
    let name = pos[0];
    if (!name) {
      if (!process.stdin.isTTY) throw new UsageError("SITE is required (no terminal to ask on)");
      const sites = await api.all<SiteInfo>("/api/sites");
      if (!sites.length) throw new SproutError(404, "no_sites", "You have no site yet.", "Deploy one to create it: `sprout deploy --site NAME`.");
      const pick = await p.select({ message: "Which site?", options: sites.map((s) => ({ value: s.name, label: s.name, hint: s.url })) });
      if (p.isCancel(pick)) throw new UsageError("cancelled");
      name = String(pick);
    }
    let site: SiteInfo;
    try {
      site = await api.call<SiteInfo>("GET", `/api/site/${encodeURIComponent(name)}`);
    } catch (e) {
      if (e instanceof SproutError && e.status === 404)
        throw new SproutError(404, "no_site", `You have no site named ${name} on ${api.master}.`, `See yours with \`sprout sites\`; a first \`sprout deploy --site ${name}\` creates it.`);
      throw e;
    }
    const project = findProject();
    const dir = project?.dir ?? process.cwd();
    const found = project?.data.publish ? null : detectGenerator(dir);
    const file = writeProject(dir, { ...(project?.data ?? {}), site: site.name, ...(found && !project?.data.publish ? { publish: found.publish } : {}) });
    return out(v, { file, site: site.name, url: site.url }, () => `Linked ${relative(process.cwd(), file)} to ${site.name} (${site.url}). \`sprout deploy\` now publishes there.\n`);
  }),
};
