import { DEFAULT_LIMITS } from "../shared/manifest";

/** MasterConfig is everything `sprout master` is started with, validated once. */
export interface MasterConfig {
  /** domain: sites are served at <site>.<domain>. */
  domain: string;
  /**
   * registration: "open" lets anyone create an account (never an admin) with POST /api/user;
   * "closed" (the default) leaves account creation to the admin (POST /api/users).
   */
  registration: "open" | "closed";
  /** accessTtl: seconds an access JWT lives (logout and password changes end it at once anyway). */
  accessTtl: number;
  /** refreshTtl: seconds a refresh token lives. */
  refreshTtl: number;
  /** offlineAfter: seconds without heartbeat before an agent is offline. */
  offlineAfter: number;
  /** healAfter: seconds a node may stay down before its sites get new replicas elsewhere. */
  healAfter: number;
  /**
   * trustedProxies: addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are
   * believed (for login throttling and Secure cookies); from anyone else those headers are ignored.
   */
  trustedProxies: string[];
  /** metricsToken: bearer token for GET /metrics; without one, /metrics answers private addresses only. */
  metricsToken?: string;
  /** alertWebhooks: URLs that receive alerts as JSON (with a Slack-compatible `text`). */
  alertWebhooks: string[];
  /** alertDiskLowBytes: a node with less free disk than this raises a disk_low alert. */
  alertDiskLowBytes: number;
  /** alertEmail: where alerts are mailed, and through which SMTP server (null: no email). */
  alertEmail: { to: string[]; from: string; smtpUrl: string } | null;
  /** quotas: each user's limits unless an admin set an override (services/quotas.ts). */
  quotas: QuotaLimits;
  /** uploadTtl: seconds a deployment may stay pending/uploading without news before it is failed. */
  uploadTtl: number;
  /** dnsServer: `host:port` of the resolver that verifies custom domains (null: the system's). */
  dnsServer: { host: string; port: number } | null;
  /** domainCheckEvery: seconds between re-checks of every custom domain's DNS. */
  domainCheckEvery: number;
  /** acme: the ACME CA that issues certificates for custom domains, or null for none. */
  acme: AcmeConfig | null;
  /** wildcard: the operator's certificate files for `*.<domain>` (--wildcard-cert/--wildcard-key), or null. */
  wildcard?: { certFile: string; keyFile: string } | null;
}

/** AcmeConfig: where certificates come from (RFC 8555). */
export interface AcmeConfig {
  /** directory: the CA's directory URL (Let's Encrypt production or staging, pebble in tests). */
  directory: string;
  email: string;
  /** caPem: a CA certificate to trust for the directory's own HTTPS (pebble's), or null. */
  caPem: string | null;
  /** renewBeforeMs: a certificate is renewed this long before it expires (default 30 days). */
  renewBeforeMs?: number;
  /** dnsHook: a command that publishes DNS-01 TXT records; with it the master gets `*.<domain>` itself. */
  dnsHook?: string | null;
}

/** QuotaLimits bound what one account may hold and do; the master's flags set the defaults. */
export interface QuotaLimits {
  /** sites: how many sites the account may own. */
  sites: number;
  /** deploysPerHour: deployments the account may create in any 60 minutes. */
  deploysPerHour: number;
  /** bytes: total size of the account's deployments that nodes keep. */
  bytes: number;
  /** filesPerDeployment: files one deployment may list. */
  filesPerDeployment: number;
  /** domains: custom domains the account may claim, pending ones included (no per-user override). */
  domains: number;
  /** certificatesPerHour: certificate orders (new and renewed) for the account's domains in any 60 minutes (no per-user override). */
  certificatesPerHour: number;
}

export const DEFAULT_MASTER_CONFIG: MasterConfig = {
  domain: "localhost",
  registration: "closed",
  accessTtl: 900,
  refreshTtl: 30 * 24 * 3600,
  offlineAfter: 15,
  healAfter: 60,
  trustedProxies: [],
  alertWebhooks: [],
  alertDiskLowBytes: 1024 ** 3,
  alertEmail: null,
  quotas: { sites: 50, deploysPerHour: 60, bytes: 10 * 1024 ** 3, filesPerDeployment: DEFAULT_LIMITS.maxFiles, domains: 100, certificatesPerHour: 20 },
  uploadTtl: 3600,
  dnsServer: null,
  domainCheckEvery: 300,
  acme: null,
};

/** now is the current time as the ISO string the database stores. */
export const now = () => new Date().toISOString();
