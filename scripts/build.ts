// bun run build: dist/sprout, one self-contained executable (views, CSS, htmx, migrations embedded).
// SPROUT_VERSION overrides the version it reports (releases, and tests that need a second build to
// upgrade to); SPROUT_PROTOCOL its wire protocol (tests of incompatible peers); SPROUT_BUILD_OUT
// where it is written.
import { statSync } from "node:fs";

const outfile = process.env.SPROUT_BUILD_OUT || "dist/sprout";
const define: Record<string, string> = {};
if (process.env.SPROUT_VERSION) define.SPROUT_BUILD_VERSION = JSON.stringify(process.env.SPROUT_VERSION);
if (process.env.SPROUT_PROTOCOL) define.SPROUT_BUILD_PROTOCOL = JSON.stringify(process.env.SPROUT_PROTOCOL);
const t0 = performance.now();
const r = await Bun.build({
  entrypoints: ["src/main.ts"],
  compile: { outfile },
  minify: true,
  sourcemap: "linked",
  target: "bun",
  define,
  // Precompiled bytecode: the CLI starts in about a third of the CPU time (no parsing of the
  // bundle at every run), which is most of a quick command's latency.
  bytecode: true,
  format: "esm",
  // Chunks per dynamic import: a command loads only the code it runs (src/cli/commands/lazy.ts). In
  // one chunk, every start loads the bytecode of everything (master, UI, ACME, mail...): about
  // 130 ms to a CLI's first request, 50 ms when split.
  splitting: true,
});
if (!r.success) {
  for (const log of r.logs) console.error(log);
  process.exit(1);
}
const mb = (statSync(outfile).size / 1024 / 1024).toFixed(1);
console.log(`${outfile}: ${mb} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
