/** MasterConfig is everything `sprout master` is started with, validated once. */
export interface MasterConfig {
  /** domain: sites are served at <site>.<domain>. */
  domain: string;
  /** registration: when "closed", only the first user (the admin) can register. */
  registration: "open" | "closed";
  /** accessTtl: seconds an access JWT lives. */
  accessTtl: number;
  /** refreshTtl: seconds a refresh token lives. */
  refreshTtl: number;
  /** offlineAfter: seconds without heartbeat before an agent is offline. */
  offlineAfter: number;
  /** healAfter: seconds a node may stay down before its sites get new replicas elsewhere. */
  healAfter: number;
}

export const DEFAULT_MASTER_CONFIG: MasterConfig = {
  domain: "localhost",
  registration: "open",
  accessTtl: 900,
  refreshTtl: 30 * 24 * 3600,
  offlineAfter: 15,
  healAfter: 60,
};

/** now is the current time as the ISO string the database stores. */
export const now = () => new Date().toISOString();
