/** RuleWarning is a line of `_redirects` or `_headers` that was skipped, and why. */
export interface RuleWarning {
  file: "_redirects" | "_headers";
  line: number;
  message: string;
  /**
   * fatal: the line restricts access (Basic-Auth) and cannot be used. Skipping it would leave the
   * content public, so the deployment fails instead.
   */
  fatal?: boolean;
}
