import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Detected is a static-site generator recognised in a project, and the folder its build writes. */
export interface Detected {
  /** generator: its name as people say it (Vite, Astro, ...). */
  generator: string;
  /** publish: the build's output folder, relative to the project. */
  publish: string;
  /** build: the command that makes it, to say when the folder is missing. */
  build: string;
  /** note: what to change in the project for it to build a static site, when it would not. */
  note?: string;
}

const JS_EXT = ["js", "mjs", "cjs", "ts", "mts", "cts"];
const any = (dir: string, names: string[]) => names.some((n) => existsSync(join(dir, n)));
const config = (dir: string, base: string) => any(dir, JS_EXT.map((e) => `${base}.${e}`));
const read = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};

/** packageDeps lists the dependencies and devDependencies of the folder's package.json. */
function packageDeps(dir: string): Set<string> {
  try {
    const pkg = JSON.parse(read(join(dir, "package.json"))) as { dependencies?: object; devDependencies?: object };
    return new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})]);
  } catch {
    return new Set();
  }
}

/**
 * detectGenerator recognises the static-site generator of a project from its config files and its
 * package.json, most specific first (VitePress and Astro run on Vite, so Vite comes after them), and
 * answers the folder its build writes, or null when nothing is recognised.
 */
export function detectGenerator(dir: string): Detected | null {
  const deps = packageDeps(dir);
  const npm = "npm run build";
  for (const root of [".", "docs"]) {
    if (config(join(dir, root, ".vitepress"), "config"))
      return { generator: "VitePress", publish: root === "." ? ".vitepress/dist" : `${root}/.vitepress/dist`, build: root === "." ? "npx vitepress build" : `npx vitepress build ${root}` };
  }
  if (deps.has("vitepress")) return { generator: "VitePress", publish: "docs/.vitepress/dist", build: "npx vitepress build docs" };
  if (config(dir, "docusaurus.config") || deps.has("@docusaurus/core")) return { generator: "Docusaurus", publish: "build", build: npm };
  if (config(dir, "astro.config") || deps.has("astro")) return { generator: "Astro", publish: "dist", build: npm };
  if (config(dir, "next.config") || deps.has("next")) {
    const cfg = JS_EXT.map((e) => read(join(dir, `next.config.${e}`))).join("\n");
    const exported = /output\s*:\s*["'`]export["'`]/.test(cfg);
    return { generator: "Next.js", publish: "out", build: npm, ...(exported ? {} : { note: "Set `output: 'export'` in next.config so `next build` writes a static site to out/." }) };
  }
  if (config(dir, "eleventy.config") || config(dir, ".eleventy") || deps.has("@11ty/eleventy")) return { generator: "Eleventy", publish: "_site", build: "npx @11ty/eleventy" };
  if (config(dir, "vite.config") || deps.has("vite")) return { generator: "Vite", publish: "dist", build: npm };
  if (deps.has("react-scripts")) return { generator: "Create React App", publish: "build", build: npm };
  if (any(dir, ["hugo.toml", "hugo.yaml", "hugo.json"]) || (any(dir, ["config.toml", "config.yaml"]) && any(dir, ["content", "archetypes", "layouts"])))
    return { generator: "Hugo", publish: "public", build: "hugo" };
  if (any(dir, ["_config.yml", "_config.yaml"]) || /\bjekyll\b/.test(read(join(dir, "Gemfile")))) return { generator: "Jekyll", publish: "_site", build: "bundle exec jekyll build" };
  return null;
}
