// The checks of sprout.json against its schema, loaded by cli/project.ts only when a project file is
// read: the schema library is most of what a quick command would otherwise load at start.
import { Value } from "@sinclair/typebox/value";
import { ProjectFile } from "../protocol/project";
import { describeProblems } from "../shared/http-errors";

/** projectProblems answers what is wrong with a parsed sprout.json, or nothing. */
export function projectProblems(data: unknown): string[] {
  return Value.Check(ProjectFile, data) ? [] : describeProblems([...Value.Errors(ProjectFile, data)]);
}

/** projectSchema is ProjectFile as plain JSON schema. */
export function projectSchema(): object {
  return JSON.parse(JSON.stringify(ProjectFile));
}
