// The project file's name and schema address, apart from its schema (protocol/project.ts) so that
// CLI commands can name the file without loading the schema library at start.

/** PROJECT_FILE is the name of a project's Sprout file, at its root (next to package.json). */
export const PROJECT_FILE = "sprout.json";

/**
 * SCHEMA_URL is what `sprout init` writes as `$schema`, so editors complete and check sprout.json.
 * The file is sprout.schema.json at the root of Sprout's repository, generated from ProjectFile.
 */
export const SCHEMA_URL = "https://raw.githubusercontent.com/sprout-hosting/sprout/main/sprout.schema.json";
