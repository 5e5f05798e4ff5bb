import { and, eq, like } from "drizzle-orm";
import type { SiteSettings } from "../../protocol/site";
import type { Db } from "../../db";
import { agents, certificates, domains, placements, sites } from "../../db/schema";
import type { GatewayRoutes, NodeTls, RoutedDomain, Upstream } from "../../protocol/domain";
import { sha256Hex } from "../../shared/ids";
import type { MasterConfig } from "../config";
import { PlatformCertFiles } from "./platform-cert";

/**
 * RouteService answers what gateways route: for each site the nginx addresses of the nodes that hold
 * it, grouped by node set (a thousand sites on the same two nodes make one upstream), and the
 * verified custom domains with their certificates. It is computed from the placements and the
 * nodes' health at each request, so a gateway never needs an earlier message to have arrived.
 */
export class RouteService {
  private readonly wildcard: PlatformCertFiles | null;

  constructor(
    private db: Db,
    private config: MasterConfig,
    /** acmeWildcard: the `*.<domain>` certificate the master got by DNS-01, when it gets one. */
    private acmeWildcard: () => { cert_pem: string; key_pem: string } | null = () => null,
  ) {
    this.wildcard = config.wildcard ? new PlatformCertFiles(config.wildcard.certFile, config.wildcard.keyFile, config.domain) : null;
  }

  build(): GatewayRoutes {
    const rows = this.db
      .select({ site: sites.name, generation: sites.generation, node: agents.name, httpUrl: agents.httpUrl, status: agents.status, applied: placements.appliedGeneration })
      .from(placements)
      .innerJoin(sites, eq(sites.id, placements.siteId))
      .innerJoin(agents, and(eq(agents.id, placements.agentId), eq(agents.role, "node")))
      .all();
    const bySite = new Map<string, typeof rows>();
    for (const r of rows) {
      if (!r.httpUrl) continue;
      bySite.set(r.site, [...(bySite.get(r.site) ?? []), r]);
    }
    const upstreams = new Map<string, Upstream>();
    const names = new Set<string>();
    const siteUpstream: Record<string, string> = {};
    for (const [site, held] of [...bySite].sort(([a], [b]) => a.localeCompare(b))) {
      // Nodes that are up and serve the site's current production; else those that are up (one
      // catching up still serves previews); else all of them (a 502 says more than a 404).
      const up = held.filter((h) => h.status === "online");
      const current = up.filter((h) => h.applied >= h.generation);
      const chosen = (current.length ? current : up.length ? up : held).sort((a, b) => a.node.localeCompare(b.node));
      const servers = chosen.map((h) => ({ node: h.node, address: address(h.httpUrl!) }));
      const key = servers.map((s) => s.address).join(" ");
      let u = upstreams.get(key);
      if (!u) {
        let name = `nodes_${chosen.map((h) => h.node.replace(/[^a-zA-Z0-9]/g, "_")).join("_")}`;
        for (let i = 2; names.has(name); i++) name = `${name}_${i}`;
        names.add(name);
        u = { name, servers };
        upstreams.set(key, u);
      }
      siteUpstream[site] = u.name;
    }
    const routed: RoutedDomain[] = this.db
      .select({ name: domains.name, site: sites.name, settings: sites.settings, cert: certificates.certPem, key: certificates.keyPem, certStatus: certificates.status })
      .from(domains)
      .innerJoin(sites, eq(sites.id, domains.siteId))
      .leftJoin(certificates, eq(certificates.domainId, domains.id))
      .where(eq(domains.status, "active"))
      .orderBy(domains.name)
      .all()
      .filter((d) => siteUpstream[d.site])
      .map((d) => ({ name: d.name, site: d.site, cert_pem: d.cert ?? null, key_pem: d.cert ? (d.key ?? null) : null, ...((JSON.parse(d.settings) as SiteSettings).keep_http ? { keep_http: true } : {}) }));
    // Sites that opted in to HSTS (few: a LIKE keeps the scan of the others cheap).
    const hsts = this.db
      .select({ name: sites.name, settings: sites.settings })
      .from(sites)
      .where(like(sites.settings, '%"hsts":true%'))
      .all()
      .filter((s) => (JSON.parse(s.settings) as SiteSettings).hsts && siteUpstream[s.name])
      .map((s) => s.name)
      .sort();
    const wildcard = this.wildcard?.get() ?? this.acmeWildcard();
    const body = { domain: this.config.domain, upstreams: [...upstreams.values()], sites: siteUpstream, domains: routed, ...(hsts.length ? { hsts } : {}), ...(wildcard ? { wildcard: { cert_pem: wildcard.cert_pem, key_pem: wildcard.key_pem } } : {}) };
    return { version: sha256Hex(JSON.stringify(body)).slice(0, 24), ...body };
  }

  /**
   * forNode answers what the node `agentId` serves over HTTPS (--https-listen): the domains of the
   * sites placed on it, with their certificates, its sites that opted in to HSTS, and the wildcard.
   * A node gets no key of a site it does not hold: one node's disk leaking gives away only its own.
   */
  forNode(agentId: string): NodeTls {
    const held = new Set(
      this.db
        .select({ site: sites.name })
        .from(placements)
        .innerJoin(sites, eq(sites.id, placements.siteId))
        .where(eq(placements.agentId, agentId))
        .all()
        .map((r) => r.site),
    );
    const all = this.build();
    const body = {
      domain: all.domain,
      domains: all.domains.filter((d) => held.has(d.site)),
      ...(all.hsts?.some((s) => held.has(s)) ? { hsts: all.hsts.filter((s) => held.has(s)) } : {}),
      ...(all.wildcard ? { wildcard: all.wildcard } : {}),
    };
    return { version: sha256Hex(JSON.stringify(body)).slice(0, 24), ...body };
  }
}

/** address turns a node's http URL into nginx's `host:port`. */
function address(httpUrl: string): string {
  const u = new URL(httpUrl);
  return `${u.hostname.includes(":") && !u.hostname.startsWith("[") ? `[${u.hostname}]` : u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
}
