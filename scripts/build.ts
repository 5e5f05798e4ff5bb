// bun run build: dist/sprout, one self-contained executable (views, CSS, htmx, migrations embedded).
import { statSync } from "node:fs";

const t0 = performance.now();
const r = await Bun.build({
  entrypoints: ["src/main.ts"],
  compile: { outfile: "dist/sprout" },
  minify: true,
  sourcemap: "linked",
  target: "bun",
});
if (!r.success) {
  for (const log of r.logs) console.error(log);
  process.exit(1);
}
const mb = (statSync("dist/sprout").size / 1024 / 1024).toFixed(1);
console.log(`dist/sprout: ${mb} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
