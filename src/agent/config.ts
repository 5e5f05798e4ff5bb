import type { ManifestLimits } from "../shared/manifest";
import type { ServerTls } from "../shared/server-tls";

/** AgentConfig is everything `sprout agent` is started with. */
export interface AgentConfig {
  master: string;
  /** masterPin: the pin of the master's self-signed certificate; only that key is accepted. */
  masterPin?: string;
  /** tls: what the agent API serves HTTPS with (null/undefined: plain HTTP, on loopback or --tls off). */
  tls?: ServerTls;
  token: string;
  name: string;
  listen: { hostname: string; port: number };
  httpListen: { hostname: string; port: number };
  /** httpsListen: where nginx serves HTTPS for the domains with a certificate (--https-listen), if anywhere. */
  httpsListen?: { hostname: string; port: number };
  dataDir: string;
  /** publicUrl: where the master and CLIs reach the agent API; defaults to http://<listen>. */
  publicUrl?: string;
  nginxBin: string;
  /** nginxUser: `USER[:GROUP]` nginx's workers run as when the agent runs as root (default nobody). */
  nginxUser?: string;
  /** minFreeDisk: below this many free bytes the node reports itself not ready (GET /readyz). */
  minFreeDisk: number;
  /** retain: deployments kept per site besides the production one and the one before it. */
  retain: number;
  limits: ManifestLimits;
  /** uploadTtlSeconds: an upload not staged by then is abandoned; its record and the blobs only it kept go. */
  uploadTtlSeconds: number;
  /** resolver: the DNS server nginx asks for proxy rules' host names (default: /etc/resolv.conf's first). */
  resolver?: string;
  /** allowPrivateProxy: proxy rules may target localhost and private addresses. */
  allowPrivateProxy?: boolean;
  /** geoipCountry: the GeoIP country database for `Country=` rules (undefined: Debian's; null: off). */
  geoipCountry?: string | null;
  /** geoipModule: nginx's geoip module (default: Debian's libnginx-mod-http-geoip). */
  geoipModule?: string;
  /** trustedProxies: addresses (CIDR) whose X-Forwarded-For names the visitor: gateways, load balancers. */
  trustedProxies?: string[];
  /** rulesEngine: how sites' rules are served: "lua" (nginx's Lua module), "nginx" (includes in shards), "auto" (lua when nginx can load it). */
  rulesEngine?: "auto" | "lua" | "nginx";
  /** sitesPerShard: the most sites with rules one nginx shard serves (nginx/shards.ts; default 50). */
  sitesPerShard?: number;
  /**
   * brotliModule: nginx's brotli_static module, loaded when the file exists (undefined: Debian's
   * path, DEFAULT_BROTLI_MODULE; null: off). Without it the node makes and serves gzip only.
   */
  brotliModule?: string | null;
  /**
   * idleTimeoutSeconds: a connection to the agent API that sends nothing this long is closed (idle
   * between requests, or a request body that stopped arriving; 1 to 255, --idle-timeout).
   */
  idleTimeoutSeconds: number;
  /** reverifySeconds: a stored blob not checked for this long is checked before a new deployment reuses it. */
  reverifySeconds: number;
}

/** DEFAULT_BROTLI_MODULE is where Debian's libnginx-mod-http-brotli-static puts the module. */
export const DEFAULT_BROTLI_MODULE = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so";

/**
 * DEFAULT_SITES_PER_SHARD: the most sites with rules one nginx shard serves (nginx/shards.ts). A
 * rules deploy reloads its shard: reading 50 such sites takes about 0.1 s of CPU.
 */
export const DEFAULT_SITES_PER_SHARD = 50;

/** DEFAULT_GEOIP_MODULE and DEFAULT_GEOIP_COUNTRY: Debian's libnginx-mod-http-geoip and geoip-database. */
export const DEFAULT_GEOIP_MODULE = "/usr/lib/nginx/modules/ngx_http_geoip_module.so";
export const DEFAULT_GEOIP_COUNTRY = "/usr/share/GeoIP/GeoIP.dat";
