/** RuleWarning is a line of `_redirects` or `_headers` that was skipped, and why. */
export interface RuleWarning {
  file: "_redirects" | "_headers";
  line: number;
  message: string;
}
