import type { RulesInput } from "./compile";
import { HeaderRules, type HeaderBlock } from "./headers";
import { readNetlifyToml } from "./netlify-toml";
import { RedirectRules, type RedirectOptions, type RedirectRule } from "./redirects";
import type { RuleWarning } from "./types";

/**
 * readRules reads every rules file of a deployment into one list of redirect rules and one of
 * header blocks, in Netlify's order: `_redirects` before netlify.toml's `[[redirects]]` (first match
 * wins), `_headers` before its `[[headers]]`. The caps apply to the site as a whole.
 */
export function readRules(input: RulesInput, opts: RedirectOptions = {}): { rules: RedirectRule[]; blocks: HeaderBlock[]; warnings: RuleWarning[] } {
  const redirects = new RedirectRules(opts);
  const headers = new HeaderRules();
  if (input.redirects) redirects.readText(input.redirects);
  if (input.headers) headers.readText(input.headers);
  const toml = input.netlifyToml ? readNetlifyToml(input.netlifyToml, redirects, headers) : [];
  // Reported file by file, in line order.
  const order: RuleWarning["file"][] = ["_redirects", "_headers", "netlify.toml"];
  const warnings = [...redirects.warnings, ...headers.warnings, ...toml].sort((a, b) => order.indexOf(a.file) - order.indexOf(b.file) || a.line - b.line);
  return { rules: redirects.rules, blocks: headers.blocks(), warnings };
}
