import { existsSync, readFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import * as p from "@clack/prompts";
import { UsageError, type Command } from "../../shared/command";
import type { ProjectFile } from "../../protocol/project";
import { PROJECT_FILE } from "../../shared/project-file";
import { SproutError } from "../../shared/errors";
import { action } from "../action";
import { detectGenerator } from "../detect";
import { info } from "../output";
import { readProject, writeProject } from "../project";

const SITE_NAME = /^(?!.*--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** suggestSiteName makes a site name from package.json's name or the folder's: lower case, single hyphens. */
export function suggestSiteName(dir: string): string {
  let name = basename(dir);
  try {
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
    if (pkg.name) name = pkg.name.replace(/^@[^/]+\//, "");
  } catch {
    /* no package.json: the folder's name */
  }
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/-+/g, "-").replace(/^-|-$/g, "").slice(0, 63).replace(/-$/, "");
  return slug || "my-site";
}

const siteProblem = (s: string) => (SITE_NAME.test(s) ? undefined : "1-63 lower-case letters, digits or single hyphens, not starting or ending with a hyphen");

export const initCommand: Command = {
  name: "init",
  group: "sites",
  summary: `Write ${PROJECT_FILE} here: the site and the folder \`sprout deploy\` publishes`,
  usage: "init [--site NAME] [--dir DIR] [--spa] [--yes] [--force]",
  options: {
    site: { type: "string", value: "NAME", description: "The site (default: from package.json's name or the folder's)" },
    dir: { type: "string", value: "DIR", description: "The folder to publish (default: the output folder of the generator detected)" },
    spa: { type: "boolean", description: "A single-page app: unknown paths serve index.html" },
    yes: { type: "boolean", short: "y", description: "Accept the defaults, ask nothing" },
    force: { type: "boolean", description: `Replace an existing ${PROJECT_FILE}` },
  },
  examples: ["sprout init", "sprout init --yes", "sprout init --site blog --dir public --yes"],
  run: action(async (v) => {
    const cwd = process.cwd();
    const file = join(cwd, PROJECT_FILE);
    const existing = existsSync(file) ? readProjectOrNull(file) : null;
    if (existsSync(file) && !v.force) throw new SproutError(409, "exists", `${PROJECT_FILE} exists here already.`, `Edit it, run \`sprout link NAME\` to change its site, or pass --force to write it again.`);
    const found = detectGenerator(cwd);
    const interactive = Boolean(process.stdin.isTTY) && !v.yes;
    const defaults = { site: typeof v.site === "string" ? v.site : existing?.site ?? suggestSiteName(cwd), dir: typeof v.dir === "string" ? v.dir : found?.publish ?? (existsSync(join(cwd, "package.json")) ? "dist" : ".") };
    if (!interactive && !v.yes && (typeof v.site !== "string" || typeof v.dir !== "string"))
      throw new UsageError("no terminal to ask on: pass --site NAME and --dir DIR, or --yes to accept the defaults");
    let site = defaults.site;
    let dir = defaults.dir;
    let spa = Boolean(v.spa);
    if (interactive) {
      p.intro(`sprout init${found ? `: a ${found.generator} project` : ""}`);
      const cancel = () => {
        p.cancel("Nothing written.");
        throw new UsageError("cancelled");
      };
      const s = await p.text({ message: "Site name", initialValue: site, validate: (x) => siteProblem(String(x ?? "")) });
      if (p.isCancel(s)) cancel();
      site = String(s);
      const d = await p.text({ message: "Folder to publish (your build's output)", initialValue: dir, validate: (x) => (String(x ?? "").trim() ? undefined : "a folder, e.g. dist") });
      if (p.isCancel(d)) cancel();
      dir = String(d).trim();
      if (v.spa === undefined) {
        const a = await p.confirm({ message: "Single-page app (unknown paths serve index.html)?", initialValue: false });
        if (p.isCancel(a)) cancel();
        spa = a === true;
      }
    }
    const problem = siteProblem(site);
    if (problem) throw new UsageError(`--site "${site}" is not a site name: ${problem}`);
    if (dir !== "." && relative(cwd, join(cwd, dir)).startsWith("..")) throw new UsageError(`--dir must be inside this project (got ${dir})`);
    const data: ProjectFile = { ...(existing ?? {}), site, publish: dir, ...(spa ? { spa: true } : {}) };
    writeProject(cwd, data);
    const lines = [`Wrote ${PROJECT_FILE}: site ${site}, publishing ${dir}${found ? ` (${found.generator}'s output)` : ""}.`];
    if (found?.note) lines.push(`Note: ${found.note}`);
    if (!existsSync(join(cwd, dir))) lines.push(`Build your site${found ? ` (\`${found.build}\`)` : ""}, then run \`sprout deploy\`.`);
    else lines.push("Next: `sprout deploy` (a preview) or `sprout deploy --prod`.");
    if (interactive) p.outro(lines.join("\n"));
    else for (const l of lines) info(l);
  }),
};

function readProjectOrNull(file: string): ProjectFile | null {
  try {
    return readProject(file);
  } catch {
    return null;
  }
}
