// Writes sprout.schema.json (the JSON schema of sprout.json) from ProjectFile in src/protocol/project.ts.
// `bun scripts/schema.ts`; test/unit/project-file.test.ts fails when the file is out of date.
import { join } from "node:path";
import { projectSchemaJson } from "../src/cli/project";

await Bun.write(join(import.meta.dir, "..", "sprout.schema.json"), projectSchemaJson());
