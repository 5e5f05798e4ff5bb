import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { badRequest } from "../shared/errors";
import { isPasswordHash } from "../shared/htpasswd";
import { basicAuthValues } from "../shared/netlify-toml";
import { passwordHasher, type LocalFile } from "./walk";

/** toml: the TOML parser, loaded when a netlify.toml is there to read (most deploys have none). */
const toml = (): typeof import("smol-toml") => require("smol-toml");

/** NETLIFY_TOML is the file's name, in a project's folder or at the root of the folder deployed. */
export const NETLIFY_TOML = "netlify.toml";

/** What a deployment's netlify.toml holds that Sprout reads; the rest (build settings, plugins, environment) never leaves the machine. */
const RULE_TABLES = ["redirects", "headers"];

/**
 * addNetlifyToml makes the deploy carry the project's netlify.toml as a rules file: the one in the
 * project's folder (where sprout.json is, else the current folder: where Netlify reads it), else
 * the one at the root of the folder deployed. Only its `[[redirects]]` and `[[headers]]` are sent,
 * with the other lines blanked so line numbers in the node's warnings still match the file, and
 * Basic-Auth passwords hashed as for `_headers`. A file that is not valid TOML stops the deploy
 * here, before anything is sent. The file is never published as a page. Answers what to tell the
 * user, or null when there is no netlify.toml.
 */
export function addNetlifyToml(files: LocalFile[], publishDir: string, projectDir: string | undefined, site: string): string | null {
  const inPublish = files.findIndex((f) => f.path === NETLIFY_TOML);
  const projectFile = projectDir ? join(projectDir, NETLIFY_TOML) : null;
  const useProject = projectFile !== null && existsSync(projectFile) && statSync(projectFile).isFile() && !sameFile(projectFile, join(publishDir, NETLIFY_TOML));
  const abs = useProject ? projectFile! : inPublish >= 0 ? files[inPublish]!.abs : null;
  if (!abs) return null;
  const where = useProject ? `the project folder${inPublish >= 0 ? "; the one in the folder deployed is not used" : ""}` : "the folder deployed";
  const text = readFileSync(abs, "utf8");
  let doc: Record<string, unknown>;
  try {
    doc = toml().parse(text) as Record<string, unknown>;
  } catch (e) {
    const at = e instanceof toml().TomlError ? ` line ${e.line}, column ${e.column}` : "";
    const why = (e as Error).message.split("\n")[0]!.replace(/^Invalid TOML document:\s*/i, "");
    throw badRequest("bad_netlify_toml", `${NETLIFY_TOML}${at} (in ${where}) is not valid TOML: ${why}.`, "Fix the file, or remove it; its [[redirects]] and [[headers]] are this site's rules.");
  }
  if (inPublish >= 0) files.splice(inPublish, 1);
  if (!RULE_TABLES.some((k) => doc[k] !== undefined)) return `${NETLIFY_TOML} (${where}) has no [[redirects]] or [[headers]]; nothing of it is sent.`;
  const content = rulesText(text, doc, site);
  const st = statSync(abs);
  const bytes = new TextEncoder().encode(content);
  files.push({ path: NETLIFY_TOML, abs, size: bytes.length, mtimeMs: st.mtimeMs, content: bytes });
  const count = (k: string) => (Array.isArray(doc[k]) ? (doc[k] as unknown[]).length : 0);
  return `Rules from ${NETLIFY_TOML} (${where}): ${count("redirects")} [[redirects]], ${count("headers")} [[headers]].`;
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * rulesText answers the text to send: the file with every line outside its `[[redirects]]` and
 * `[[headers]]` tables blanked and plain Basic-Auth passwords replaced by their hashes, checked by
 * parsing it again; when the file's layout defeats that (rules in inline arrays, say), the two
 * tables written anew (the node's line numbers then count in that text).
 */
function rulesText(text: string, doc: Record<string, unknown>, site: string): string {
  const want: Record<string, unknown> = {};
  // In the file's order, as parsing the text sent gives them.
  for (const k of Object.keys(doc)) if (RULE_TABLES.includes(k)) want[k] = JSON.parse(JSON.stringify(doc[k]));
  // Hash the plain passwords: the same value gets the same hash across lines and deploys.
  const hasher = passwordHasher(site);
  const hashed = new Map<string, string>();
  const hashValue = (v: string) => {
    if (!hashed.has(v))
      hashed.set(
        v,
        v
          .split(/\s+/)
          .filter(Boolean)
          .map((pair) => {
            const i = pair.indexOf(":");
            return i < 1 || isPasswordHash(pair.slice(i + 1)) ? pair : `${pair.slice(0, i)}:${hasher.hash(pair.slice(0, i), pair.slice(i + 1))}`;
          })
          .join(" "),
      );
    return hashed.get(v)!;
  };
  for (const { entry, name, value } of basicAuthValues(want)) {
    const values = ((want.headers as Record<string, unknown>[])[entry]!.values as Record<string, unknown>);
    values[name] = Array.isArray(value) ? value.map((x) => (typeof x === "string" ? hashValue(x) : x)) : hashValue(value);
  }
  hasher.save();

  let open: string | null = null;
  let keep = false;
  const kept = text.split("\n").map((raw) => {
    if (!open) {
      const m = /^\s*\[\[?\s*([A-Za-z0-9_-]+)\s*[.\]]/.exec(raw);
      if (m) keep = RULE_TABLES.includes(m[1]!);
    }
    let out = keep ? raw : "";
    if (keep && !open) {
      // A one-line Basic-Auth string: its plain passwords replaced in place.
      const a = /^(\s*["']?basic-auth["']?\s*=\s*)"([^"\\]*)"(.*)$/i.exec(raw);
      if (a && hashed.has(a[2]!)) out = `${a[1]}"${hashed.get(a[2]!)}"${a[3]}`;
    }
    for (const q of raw.matchAll(/"""|'''/g)) open = open === null ? q[0] : open === q[0] ? null : open;
    return out;
  });
  const candidate = kept.join("\n");
  try {
    if (JSON.stringify(toml().parse(candidate)) === JSON.stringify(want)) return candidate;
  } catch {
    /* written anew below */
  }
  return `# ${NETLIFY_TOML}'s [[redirects]] and [[headers]], as sprout deploy sends them\n${toml().stringify(want)}\n`;
}
