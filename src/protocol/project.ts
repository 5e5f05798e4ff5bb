import { t } from "elysia";
import { SiteName } from "./common";
import { Type } from "@sinclair/typebox";

export { PROJECT_FILE, SCHEMA_URL } from "../shared/project-file";

/**
 * ProjectFile is sprout.json: what `sprout deploy` needs to run without flags in a project. Flags
 * (and their SPROUT_* variables) win over it. sprout.schema.json is generated from this schema.
 */
export const ProjectFile = t.Object(
  {
    $schema: t.Optional(t.String({ description: "The JSON schema of this file, for editors" })),
    site: t.Optional({ ...SiteName, description: "The site deployed to (its host is <site>.<domain>)" }),
    publish: t.Optional(t.String({ minLength: 1, description: "The folder to publish, relative to this file (e.g. dist, out, public, _site)" })),
    spa: t.Optional(t.Boolean({ description: "Single-page app: unknown paths serve index.html" })),
    // TypeBox's own Integer: Elysia's t.Integer also accepts numeric strings (for query strings), which
    // a JSON file has no need of and the published schema should not allow.
    replicas: t.Optional(Type.Integer({ minimum: 1, maximum: 16, description: "How many nodes serve the site (1 to 16)" })),
    ignore: t.Optional(t.Array(t.String({ minLength: 1 }), { description: "Files left out of a deploy, gitignore syntax (added to the publish folder's .sproutignore)" })),
  },
  { additionalProperties: false, title: "Sprout project", description: "sprout.json: how `sprout deploy` publishes this project" },
);
export type ProjectFile = typeof ProjectFile.static;
