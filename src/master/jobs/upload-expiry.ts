import { logger } from "../../shared/log";
import type { Services } from "../context";

const log = logger("jobs");

/**
 * startUploadExpiry fails deployments left pending or uploading longer than `--upload-ttl` (a CLI
 * killed mid-deploy, a grant never used), so they neither stay "in progress" forever nor count as
 * kept bytes, forgets quota bookkeeping older than an hour, and removes the manifest chunks no
 * deployment lists any more (those of deleted sites). It runs at start and then on a timer
 * a quarter of the TTL long (between 0.5 s and 60 s); each run is idempotent. Answers a stop function.
 */
export function startUploadExpiry(s: Pick<Services, "deployments" | "quotas" | "config">): () => void {
  const ttl = s.config.uploadTtl;
  const run = () => {
    try {
      const n = s.deployments.expireAbandoned(ttl);
      if (n) log.info("expired abandoned uploads", { deployments: n, ttl_seconds: ttl });
      s.quotas.prune();
      s.deployments.manifests.collect();
    } catch (e) {
      log.warn("upload expiry failed", { error: (e as Error).message });
    }
  };
  run();
  const timer = setInterval(run, Math.min(60_000, Math.max(500, (ttl * 1000) / 4)));
  return () => clearInterval(timer);
}
