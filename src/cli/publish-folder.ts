import { existsSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { PROJECT_FILE } from "../shared/project-file";
import { SproutError, badRequest } from "../shared/errors";
import { detectGenerator } from "./detect";
import type { Project } from "./project";

/** PublishFolder is the folder a deploy publishes, and why that one, to tell the user. */
export interface PublishFolder {
  dir: string;
  /** shown: the folder as the user would type it from here. */
  shown: string;
  why: string;
}

const show = (cwd: string, dir: string) => relative(cwd, dir) || ".";

/**
 * choosePublishFolder decides what `sprout deploy` publishes: the DIR given, else sprout.json's
 * `publish`, else the output folder of the generator detected here, else the current folder, but
 * never a folder holding package.json by default: that is a project's sources, not its build.
 */
export function choosePublishFolder(given: string | undefined, project: Project | null, cwd = process.cwd()): PublishFolder {
  if (given !== undefined) {
    const dir = resolve(cwd, given);
    const why = existsSync(join(dir, "package.json")) ? "given; it holds package.json, so check that these are built files" : "given";
    return { dir, shown: show(cwd, dir), why };
  }
  if (project?.data.publish) {
    const dir = resolve(project.dir, project.data.publish);
    return { dir, shown: show(cwd, dir), why: `"publish" in ${show(cwd, project.file)}` };
  }
  const root = project?.dir ?? cwd;
  const found = detectGenerator(root);
  if (found) {
    const dir = resolve(root, found.publish);
    if (found.note) throw badRequest("not_static", `This is a ${found.generator} project that does not build a static site yet.`, found.note);
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new SproutError(400, "not_built", `This looks like a ${found.generator} project, whose build goes to ${show(cwd, dir)}, and that folder does not exist yet.`, `Build it first (\`${found.build}\`), then run \`sprout deploy\` again.`);
    return { dir, shown: show(cwd, dir), why: `${found.generator}'s output folder; record it with \`sprout init\`` };
  }
  if (existsSync(join(root, "package.json")))
    throw badRequest(
      "which_folder",
      "This folder holds package.json, so Sprout will not publish it whole (your sources and configuration would be public).",
      `Name the built folder: \`sprout deploy ./dist\`, or record it once with \`sprout init --dir dist\` (it goes in ${PROJECT_FILE}).`,
    );
  return { dir: cwd, shown: ".", why: "the current folder" };
}
