import type { DeploymentInfo } from "../protocol/deployment";

/**
 * settled: whether a deployment has reached its end, for whoever waits for it (the master's long
 * poll, the CLI): failed, or ready and, for a production deploy, live or passed over by a newer
 * production change (then it stays a preview unless promoted). Here rather than beside the schemas
 * in protocol/deployment.ts: the CLI loads it without their library.
 */
export function settled(d: Pick<DeploymentInfo, "status" | "production" | "is_production" | "superseded">, production = d.production): boolean {
  return d.status === "failed" || (d.status === "ready" && (!production || d.is_production || (d.superseded ?? false)));
}
