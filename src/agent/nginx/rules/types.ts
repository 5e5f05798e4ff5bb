/**
 * RuleWarning is a line of `_redirects` or `_headers` that was skipped, and why. A `fatal` one is a
 * line whose rule restricts access in a way nginx cannot enforce: skipping it would leave content
 * public, so the deployment that carries it fails instead.
 */
export interface RuleWarning {
  file: "_redirects" | "_headers";
  line: number;
  message: string;
  fatal?: boolean;
}
