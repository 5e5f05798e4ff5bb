// Netlify-compatible serving rules compiled into nginx configuration (issue: _redirects, _headers,
// clean URLs, SPA, Basic-Auth). See compile.ts for how each maps onto nginx.
export { compileSite, fatalProblems, hasRules, rulesDigest, type CompiledSite, type RulesInput } from "./compile";
export { parseRedirects, type RedirectRule } from "./redirects";
export { parseHeaders, type HeaderBlock } from "./headers";
export { readRules } from "./read";
export { readNetlifyToml } from "./netlify-toml";
export type { RuleWarning, RulesFile } from "./types";
export { redactHeaders } from "../../../shared/htpasswd";
