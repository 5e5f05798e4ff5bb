import { hostname } from "node:os";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError, requireString, type Command } from "../shared/command";
import { DEFAULT_LIMITS } from "../shared/manifest";
import { idleTimeoutFlag, parseListen, waitForSignal } from "../shared/listen";
import { logger } from "../shared/log";
import { DEFAULT_BROTLI_MODULE, DEFAULT_GEOIP_COUNTRY, DEFAULT_GEOIP_MODULE, DEFAULT_SITES_PER_SHARD } from "./config";
import { clearPid, relaunch, writePid } from "./self-upgrade";
import { DEFAULT_IDLE_TIMEOUT_S } from "./request-body";
import { TLS_FLAGS, parseTlsMode, serverTls } from "../shared/server-tls";
import { assertPrivateTransport, normalizePin } from "../shared/tls";
import { isSproutError } from "../shared/errors";
import { lockDataFolder } from "../shared/data-lock";
import { makeDataFolder } from "./layout";

const log = logger("agent");

/**
 * agentCommand is `sprout agent`: one per node; stores sites and serves them through its nginx. With
 * `--role gateway` it stores nothing and runs nginx as the load balancer in front of the nodes.
 */
export const agentCommand: Command = {
  name: "agent",
  group: "modes",
  summary: "Run a node: receive deployments, serve them with nginx, report to the master",
  usage: "agent --master URL --token TOKEN [--role node|gateway] [--name NAME] [--listen HOST:PORT] [--http-listen HOST:PORT] [--https-listen HOST:PORT] [--data DIR]",
  options: {
    role: { type: "string", value: "node|gateway", description: "node: store and serve sites; gateway: load-balance visitors to the nodes (as registered with `sprout agents create NAME --role`)", env: "SPROUT_AGENT_ROLE", default: "node" },
    "https-listen": { type: "string", value: "HOST:PORT", description: "Address where nginx serves HTTPS (HTTP/2) for the domains with a certificate, on a node or a gateway", env: "SPROUT_HTTPS_LISTEN" },
    master: { type: "string", value: "URL", description: "The master's URL (https://, or http:// on this machine only: the token must not cross a network in clear)", env: "SPROUT_MASTER" },
    "master-pin": { type: "string", value: "sha256//...", description: "Pin of the master's self-signed certificate (printed by `sprout master` and `sprout agents create`); only that key is accepted", env: "SPROUT_MASTER_PIN" },
    ...TLS_FLAGS("SPROUT_AGENT_"),
    token: { type: "string", value: "TOKEN", description: "This agent's token (from `sprout agents create NAME`)", env: "SPROUT_AGENT_TOKEN" },
    name: { type: "string", value: "NAME", description: "Name shown in `sprout agents`", env: "SPROUT_AGENT_NAME" },
    listen: { type: "string", value: "HOST:PORT", description: "Address of the agent API (uploads)", env: "SPROUT_AGENT_LISTEN", default: "127.0.0.1:7070" },
    "http-listen": { type: "string", value: "HOST:PORT", description: "Address where nginx serves the sites", env: "SPROUT_HTTP_LISTEN", default: "127.0.0.1:8080" },
    data: { type: "string", value: "DIR", description: "Folder for blobs, sites and nginx files", env: "SPROUT_AGENT_DATA", default: ".sprout/agent" },
    "public-url": { type: "string", value: "URL", description: "URL where CLIs and peers reach the agent API (default http://<listen>)", env: "SPROUT_AGENT_URL" },
    nginx: { type: "string", value: "PATH", description: "The nginx binary", env: "SPROUT_NGINX" },
    "min-free-disk": { type: "string", value: "BYTES", description: "Below this much free disk, GET /readyz answers 503", env: "SPROUT_MIN_FREE_DISK", default: String(512 * 1024 * 1024) },
    "nginx-user": { type: "string", value: "USER[:GROUP]", description: "Unprivileged user nginx's workers run as when the agent runs as root (default: nobody)", env: "SPROUT_NGINX_USER" },
    retain: { type: "string", value: "N", description: "Deployments kept per site besides production and the one before", env: "SPROUT_RETAIN", default: "20" },
    "max-file-size": { type: "string", value: "BYTES", description: "Largest file accepted", env: "SPROUT_MAX_FILE_SIZE", default: String(DEFAULT_LIMITS.maxFileBytes) },
    "upload-ttl": { type: "string", value: "SECONDS", description: "Age at which an unfinished upload is abandoned and its files freed", env: "SPROUT_UPLOAD_TTL", default: String(24 * 60 * 60) },
    resolver: { type: "string", value: "ADDRESS", description: "DNS server nginx asks for proxy rules' host names (default: the first nameserver of /etc/resolv.conf)", env: "SPROUT_RESOLVER" },
    "geoip-country": { type: "string", value: "PATH|off", description: "GeoIP country database (legacy .dat) for Country= rules (Debian: geoip-database); off: such rules are skipped", env: "SPROUT_GEOIP_COUNTRY", default: DEFAULT_GEOIP_COUNTRY },
    "geoip-module": { type: "string", value: "PATH", description: "nginx's geoip module (Debian: libnginx-mod-http-geoip)", env: "SPROUT_GEOIP_MODULE", default: DEFAULT_GEOIP_MODULE },
    "trusted-proxies": { type: "string", value: "CIDR,...", description: "Gateways or load balancers in front of this node: their X-Forwarded-For names the visitor (logs, Country= rules)", env: "SPROUT_TRUSTED_PROXIES" },
    "rules-engine": { type: "string", value: "auto|lua|nginx", description: "How sites' _redirects/_headers are served: lua (nginx's Lua module reads them per request: no reload per deploy), nginx (includes in shards), auto (lua when nginx can load it)", env: "SPROUT_RULES_ENGINE", default: "auto" },
    "sites-per-shard": { type: "string", value: "N", description: "With --rules-engine nginx: most sites with _redirects/_headers one nginx shard serves (a rules deploy reloads only its shard)", env: "SPROUT_SITES_PER_SHARD", default: String(DEFAULT_SITES_PER_SHARD) },
    "allow-private-proxy": { type: "boolean", description: "Let proxy rules reach localhost and private addresses (trusted tenants only)", env: "SPROUT_ALLOW_PRIVATE_PROXY" },
    "brotli-module": { type: "string", value: "PATH|off", description: "nginx's brotli_static module, to serve .br siblings made at deploy time (Debian: libnginx-mod-http-brotli-static); off: gzip only", env: "SPROUT_BROTLI_MODULE", default: DEFAULT_BROTLI_MODULE },
    "reverify-after": { type: "string", value: "SECONDS", description: "Check a stored file's bytes again before reusing it when not checked for this long (0: at every reuse)", env: "SPROUT_REVERIFY_AFTER", default: String(24 * 60 * 60) },
    "idle-timeout": { type: "string", value: "SECONDS", description: "Close an agent API connection that sends nothing this long: idle between requests, or an upload whose bytes stopped coming (1-255; an upload that keeps sending is never cut)", env: "SPROUT_IDLE_TIMEOUT", default: String(DEFAULT_IDLE_TIMEOUT_S) },
    "max-total-size": { type: "string", value: "BYTES", description: "Largest deployment accepted", env: "SPROUT_MAX_TOTAL_SIZE", default: String(DEFAULT_LIMITS.maxTotalBytes) },
  },
  examples: [
    "sprout agent --master https://10.0.0.1:7000 --master-pin sha256//... --token spa_... --name node-1",
    "sprout agent --master http://127.0.0.1:7000 --token $TOKEN --listen 127.0.0.1:7071 --http-listen 127.0.0.1:8081 --data /tmp/node2",
    "sprout agent --role gateway --master http://10.0.0.1:7000 --token spa_... --name gw-1 --http-listen 0.0.0.0:80 --https-listen 0.0.0.0:443",
  ],
  async run(v) {
    const master = requireString(v, "master");
    const token = requireString(v, "token");
    if (!/^https?:\/\//.test(master)) throw new UsageError("--master must be an http:// or https:// URL");
    let masterPin: string | undefined;
    try {
      assertPrivateTransport(master, "--master");
      masterPin = typeof v["master-pin"] === "string" && v["master-pin"] ? normalizePin(v["master-pin"], "--master-pin") : undefined;
    } catch (e) {
      if (!isSproutError(e)) throw e;
      throw new UsageError(`${e.message} ${e.hint ?? ""}`.trim());
    }
    const num = (name: string) => {
      const n = Number(v[name]);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number`);
      return n;
    };
    const perShard = () => {
      const n = num("sites-per-shard");
      if (n < 1) throw new UsageError("--sites-per-shard must be at least 1");
      return n;
    };
    const engine = () => {
      const e = String(v["rules-engine"] ?? "auto");
      if (e !== "auto" && e !== "lua" && e !== "nginx") throw new UsageError(`--rules-engine must be auto, lua or nginx (got ${JSON.stringify(e)})`);
      return e;
    };
    const listen = (name: string) => {
      try {
        return parseListen(String(v[name]), `--${name}`);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    };
    const nginxBin = typeof v.nginx === "string" ? v.nginx : Bun.which("nginx") ?? (existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : null);
    if (!nginxBin) {
      process.stderr.write("sprout agent: nginx not found. Install it (apt-get install nginx-light) or pass --nginx PATH.\n");
      return 1;
    }
    const api = listen("listen");
    const publicUrl = typeof v["public-url"] === "string" ? v["public-url"].replace(/\/+$/, "") : undefined;
    // 0.0.0.0 is where the agent listens, not where anyone reaches it: CLIs upload to the agent's URL.
    if (!publicUrl && ["0.0.0.0", "::", ""].includes(api.hostname))
      throw new UsageError(`--listen ${api.hostname || "::"}:${api.port} accepts connections on every address, so the agent cannot tell which one CLIs and other nodes reach it at: set --public-url (SPROUT_AGENT_URL), e.g. --public-url http://10.0.0.2:${api.port}`);
    if (publicUrl && !/^https?:\/\/[^\s/?#]+/.test(publicUrl)) throw new UsageError("--public-url must be an http:// or https:// URL");
    // The path goes into nginx.conf: a plain absolute path only.
    const brotliModule = (p: string) => {
      if (p === "off") return null;
      if (!/^\/[A-Za-z0-9._/+-]+$/.test(p)) throw new UsageError("--brotli-module must be an absolute path (letters, digits, . _ - + and /) or off");
      return p;
    };
    const nginxPath = (name: string, offOk: boolean) => {
      const p = String(v[name]);
      if (offOk && p === "off") return null;
      if (!/^\/[A-Za-z0-9._/+-]+$/.test(p)) throw new UsageError(`--${name} must be an absolute path (letters, digits, . _ - + and /)${offOk ? " or off" : ""}`);
      return p;
    };
    // Each goes into nginx.conf: an IPv4 or IPv6 address, with an optional prefix length, only.
    const cidrs = (list: string) =>
      list
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean)
        .map((x) => {
          if (!/^(?:\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(?:\/\d{1,3})?)$/.test(x)) throw new UsageError(`--trusted-proxies: ${JSON.stringify(x)} is not an address or CIDR like 10.0.0.5 or 10.0.0.0/24`);
          return x;
        });
    const role = String(v.role);
    if (role !== "node" && role !== "gateway") throw new UsageError("--role must be node or gateway");
    const httpsListen = typeof v["https-listen"] === "string" ? listen("https-listen") : undefined;
    // Before anything touches the folder (its certificate, nginx, the blob store): a second agent on
    // it stops here, leaving the running one's nginx alone.
    makeDataFolder(resolve(String(v.data)));
    const unlock = lockDataFolder(resolve(String(v.data)), "agent");
    // A node's API takes upload grants and peer tokens: HTTPS beyond loopback, with a pin the master
    // hands to the CLIs and peers it sends here. A gateway's API answers liveness only.
    const tls =
      role === "node"
        ? await serverTls({ mode: parseTlsMode(v.tls), certFile: typeof v["tls-cert"] === "string" ? v["tls-cert"] : undefined, keyFile: typeof v["tls-key"] === "string" ? v["tls-key"] : undefined, dir: resolve(String(v.data), "tls"), listenHost: api.hostname, commonName: `sprout-agent ${typeof v.name === "string" ? v.name : hostname()}`, names: publicUrl ? [new URL(publicUrl).hostname] : [] })
        : null;
    if (tls && publicUrl?.startsWith("http://"))
      throw new UsageError(`--public-url ${publicUrl} is plain HTTP, but the agent API serves HTTPS here (it listens beyond loopback): use https://, or --tls off behind a TLS proxy`);
    // A node's or a gateway's modules load only here: other commands of this binary start faster.
    const Impl = role === "gateway" ? (await import("./gateway/gateway")).Gateway : (await import("./agent")).Agent;
    const agent = new Impl({
      httpsListen,
      master,
      masterPin,
      tls: tls ?? undefined,
      token,
      name: typeof v.name === "string" ? v.name : hostname(),
      listen: api,
      httpListen: listen("http-listen"),
      dataDir: resolve(String(v.data)),
      publicUrl,
      nginxBin,
      nginxUser: typeof v["nginx-user"] === "string" ? v["nginx-user"] : undefined,
      minFreeDisk: num("min-free-disk"),
      retain: num("retain"),
      limits: { ...DEFAULT_LIMITS, maxFileBytes: num("max-file-size"), maxTotalBytes: num("max-total-size") },
      uploadTtlSeconds: Math.max(1, num("upload-ttl")),
      resolver: typeof v.resolver === "string" ? v.resolver : undefined,
      allowPrivateProxy: v["allow-private-proxy"] === true,
      sitesPerShard: perShard(),
      rulesEngine: engine(),
      reverifySeconds: num("reverify-after"),
      idleTimeoutSeconds: idleTimeoutFlag(v["idle-timeout"]),
      brotliModule: brotliModule(String(v["brotli-module"])),
      geoipCountry: nginxPath("geoip-country", true),
      geoipModule: nginxPath("geoip-module", false) ?? undefined,
      trustedProxies: typeof v["trusted-proxies"] === "string" ? cidrs(v["trusted-proxies"]) : [],
    });
    let code = 0;
    let restart = false;
    writePid(resolve(String(v.data)));
    await Promise.race([
      waitForSignal(),
      agent.run().then(
        (r) => void (restart = r === "restart"),
        (e: Error) => {
          process.stderr.write(`sprout agent: ${e.message}\n`);
          code = 1;
        },
      ),
    ]);
    log.info(restart ? "stopping to restart as the upgraded version" : "stopping");
    const listenAt = restart ? agent.listenAddress() : "";
    await agent.stop();
    clearPid(resolve(String(v.data)));
    unlock();
    // After an upgrade the new binary starts once this one let go of its ports.
    if (restart) return relaunch(listenAt);
    return code;
  },
};
