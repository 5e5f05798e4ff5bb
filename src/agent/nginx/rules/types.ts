/**
 * RuleWarning is a line of `_redirects`, `_headers` or netlify.toml that was skipped, and why. A `fatal` one is a
 * line whose rule restricts access in a way nginx cannot enforce: skipping it would leave content
 * public, so the deployment that carries it fails instead.
 */
export interface RuleWarning {
  file: RulesFile;
  line: number;
  message: string;
  fatal?: boolean;
  /** note: the rule still applies (an unknown key, an unsupported option it is used without). */
  note?: boolean;
}

/** RulesFile names the files a deployment's rules come from (netlify.toml: `[[redirects]]` and `[[headers]]`). */
export type RulesFile = "_redirects" | "_headers" | "netlify.toml";
