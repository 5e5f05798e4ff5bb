// bun run build: dist/sprout, one self-contained executable (views, CSS, htmx, migrations embedded).
import { copyFileSync, mkdirSync, statSync } from "node:fs";

mkdirSync("public", { recursive: true });
// htmx is embedded from public/ so the binary never reads node_modules at run time.
copyFileSync("node_modules/htmx.org/dist/htmx.min.js", "public/htmx.min.js");

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
