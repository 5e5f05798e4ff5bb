import { defineConfig } from "drizzle-kit";

// `bunx drizzle-kit generate` writes SQL migrations from src/db/schema.ts; src/db/migrations.ts embeds them.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./src/db/migrations",
});
