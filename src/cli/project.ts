import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { ProjectFile } from "../protocol/project";
import { PROJECT_FILE, SCHEMA_URL } from "../shared/project-file";
import { SproutError } from "../shared/errors";

/** Project is a sprout.json found on disk: its folder (what `publish` is relative to) and its content. */
export interface Project {
  dir: string;
  file: string;
  data: ProjectFile;
}

/**
 * findProject looks for sprout.json in `from` and its parents (as npm looks for package.json), so
 * `sprout deploy` works from any folder of the project. A file that is not valid is an error that
 * names each problem, never silently ignored.
 */
export function findProject(from = process.cwd()): Project | null {
  let dir = resolve(from);
  for (;;) {
    const file = join(dir, PROJECT_FILE);
    if (existsSync(file)) return { dir, file, data: readProject(file) };
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** readProject parses and checks one sprout.json. */
export function readProject(file: string): ProjectFile {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new SproutError(400, "bad_project_file", `${PROJECT_FILE} is not valid JSON: ${(e as Error).message}.`, `Fix it, or write it again with \`sprout init --force\`.`);
  }
  // The schema and its checker load only when a project file is read (most commands never do).
  const problems = (require("./project-check") as typeof import("./project-check")).projectProblems(data);
  if (problems.length) {
    throw new SproutError(400, "bad_project_file", `${PROJECT_FILE}: ${problems.join("; ")}.`, `Fix ${PROJECT_FILE} (its schema is ${SCHEMA_URL}).`);
  }
  return data as ProjectFile;
}

/** writeProject writes sprout.json in `dir` with `$schema` first and the fields in a stable order. */
export function writeProject(dir: string, data: ProjectFile): string {
  const file = join(dir, PROJECT_FILE);
  const ordered: ProjectFile = { $schema: data.$schema ?? SCHEMA_URL };
  for (const k of ["site", "publish", "spa", "replicas", "ignore"] as const) if (data[k] !== undefined) (ordered as Record<string, unknown>)[k] = data[k];
  writeFileSync(`${file}.tmp`, `${JSON.stringify(ordered, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}

/** projectSchemaJson is sprout.schema.json: the JSON schema of ProjectFile, for editors. */
export function projectSchemaJson(): string {
  const { projectSchema } = require("./project-check") as typeof import("./project-check");
  const schema = { $schema: "http://json-schema.org/draft-07/schema#", $id: SCHEMA_URL, ...projectSchema() };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
