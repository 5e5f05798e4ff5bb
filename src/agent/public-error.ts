/**
 * publicMessage answers an error's message as a tenant may read it (deploy logs, API answers). A
 * system error's own message names the absolute paths it failed on ("ENOENT: no such file or
 * directory, link '/var/lib/sprout/blobs/..' -> '/var/lib/sprout/sites/..'"), which would tell any
 * account that can deploy where the node keeps its data: only its call and code are kept.
 */
export function publicMessage(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const sys = e as NodeJS.ErrnoException & { dest?: string };
  if (typeof sys.code === "string" && (sys.path !== undefined || sys.dest !== undefined || typeof sys.syscall === "string"))
    return `${sys.syscall ?? "a file operation"} failed on the node (${sys.code})`;
  return e.message;
}
