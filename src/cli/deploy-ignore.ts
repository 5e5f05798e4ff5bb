import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import ignore, { type Ignore } from "ignore";
import { PUBLIC_DOT_FOLDER } from "../shared/paths";

/** SPROUTIGNORE is the file at a deploy's root whose gitignore-style patterns the CLI leaves out. */
export const SPROUTIGNORE = ".sproutignore";

/**
 * alwaysLeftOut tells whether a file or folder name is never deployed, wherever it sits: dotfiles and
 * dot-folders (`.env`, `.git`, `.DS_Store`, `.sproutignore` itself) except `.well-known`, and
 * `node_modules`, as the Netlify CLI does. The master refuses dot segments too (shared/paths.ts), so
 * a `.sproutignore` negation cannot bring them back.
 */
export function alwaysLeftOut(name: string): boolean {
  return name === "node_modules" || (name.startsWith(".") && name !== PUBLIC_DOT_FOLDER);
}

/**
 * DeployIgnore decides what a deploy leaves out: the fixed rules of `alwaysLeftOut`, then the
 * patterns of the root's `.sproutignore` (gitignore syntax: globs, `dir/`, `!negation`, `#`
 * comments; matched by the `ignore` package, the matcher eslint and prettier use), and the
 * `ignore` patterns of sprout.json, given as `extra`.
 */
export class DeployIgnore {
  private patterns: Ignore | null;

  constructor(root: string, extra: string[] = []) {
    let text: string | null = null;
    try {
      text = readFileSync(join(root, SPROUTIGNORE), "utf8");
    } catch {
      /* no .sproutignore: only the fixed rules apply */
    }
    // Case-sensitive, as git is on Linux, so the same file is left out on every machine.
    this.patterns = text === null && !extra.length ? null : ignore({ ignorecase: false }).add(extra).add(text ?? "");
  }

  /** leavesOut tells whether `rel` (relative to the root, `/`-separated) is left out. */
  leavesOut(rel: string, name: string, isDir: boolean): boolean {
    if (alwaysLeftOut(name)) return true;
    return this.patterns?.ignores(isDir ? `${rel}/` : rel) ?? false;
  }
}

/** countFiles counts what a left-out folder holds, without following links, to say how much was left out. */
export function countFiles(dir: string): number {
  let n = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (e.isDirectory()) n += countFiles(join(dir, e.name));
    else n++;
  }
  return n;
}
