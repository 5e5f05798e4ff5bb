import { t } from "elysia";
import { Id, SiteName } from "./common";

/**
 * DomainName is a custom domain as a user types it: lower-case DNS labels, at least two, no wildcard
 * (a wildcard would claim names other accounts may own).
 */
export const DomainName = t.String({
  pattern: "^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$",
  error: "domain: a host name such as www.example.com (lower-case letters, digits, hyphens and dots)",
});

/** DomainAdd is POST /api/domains: attach `name` to one of the caller's sites. */
export const DomainAdd = t.Object({ name: DomainName, site: SiteName });
export type DomainAdd = typeof DomainAdd.static;

/** DnsRecord is one record the user must create at their DNS provider. */
export const DnsRecord = t.Object({
  type: t.Union([t.Literal("CNAME"), t.Literal("A"), t.Literal("AAAA"), t.Literal("TXT")]),
  name: t.String(),
  value: t.String(),
});
export type DnsRecord = typeof DnsRecord.static;

/** CertificateInfo is a domain's certificate as users see it: never the key. */
export const CertificateInfo = t.Object({
  status: t.Union([t.Literal("pending"), t.Literal("active"), t.Literal("failed")]),
  expires_at: t.Union([t.String(), t.Null()]),
  last_error: t.Union([t.String(), t.Null()]),
  next_attempt_at: t.Union([t.String(), t.Null()]),
});
export type CertificateInfo = typeof CertificateInfo.static;

/**
 * DomainInfo is a domain as GET /api/domains and POST /api/domains answer it. `status`: pending
 * (create `records`, Sprout checks them), active (verified and served), misconfigured (it was
 * verified, but DNS no longer points at Sprout: not served until it does again).
 */
export const DomainInfo = t.Object({
  id: Id,
  name: t.String(),
  site: SiteName,
  status: t.Union([t.Literal("pending"), t.Literal("active"), t.Literal("misconfigured")]),
  /** records: what to create at the DNS provider (all of them). */
  records: t.Array(DnsRecord),
  last_error: t.Union([t.String(), t.Null()]),
  checked_at: t.Union([t.String(), t.Null()]),
  verified_at: t.Union([t.String(), t.Null()]),
  certificate: t.Union([CertificateInfo, t.Null()]),
  created_at: t.String(),
});
export type DomainInfo = typeof DomainInfo.static;

/** Upstream is a set of nodes that serve the same sites; a gateway balances over its servers. */
export const Upstream = t.Object({
  /** name: readable and stable for one set of nodes, e.g. "nodes_node1_node2". */
  name: t.String({ pattern: "^[a-zA-Z0-9_]+$" }),
  /** servers: `host:port` of each node's nginx. */
  servers: t.Array(t.Object({ node: t.String(), address: t.String() })),
});
export type Upstream = typeof Upstream.static;

/** RoutedDomain is a verified custom domain a gateway routes, with its certificate once issued. */
export const RoutedDomain = t.Object({
  name: t.String(),
  site: SiteName,
  /** cert_pem/key_pem: the active certificate and its key (PEM), or null before one is issued. */
  cert_pem: t.Union([t.String(), t.Null()]),
  key_pem: t.Union([t.String(), t.Null()]),
  /** keep_http: the site keeps plain HTTP (no redirect to HTTPS). */
  keep_http: t.Optional(t.Boolean()),
});
export type RoutedDomain = typeof RoutedDomain.static;

/**
 * GatewayRoutes is GET /api/agent/routes (a gateway's token): everything a gateway needs to route
 * visitors, saved on its disk so it keeps routing while the master is away. `version` is a digest of
 * the rest; it is also the ETag, so an unchanged document costs a 304.
 */
export const GatewayRoutes = t.Object({
  version: t.String(),
  /** domain: the platform domain (sites at <site>.<domain>, previews at <id>--<site>.<domain>). */
  domain: t.String(),
  upstreams: t.Array(Upstream),
  /** sites: each site's upstream, by name. */
  sites: t.Record(t.String(), t.String()),
  domains: t.Array(RoutedDomain),
  /** hsts: the sites whose HTTPS answers carry Strict-Transport-Security. */
  hsts: t.Optional(t.Array(t.String())),
  /** wildcard: the certificate of `*.<domain>` (operator's files), for the sites' own hosts over HTTPS. */
  wildcard: t.Optional(t.Object({ cert_pem: t.String(), key_pem: t.String() })),
});
export type GatewayRoutes = typeof GatewayRoutes.static;

/**
 * NodeTls is GET /api/agent/tls (a node's token): what a node with `--https-listen` serves over
 * HTTPS. Only the verified domains of the sites placed on that node, with their certificates (a node
 * never holds the keys of sites it does not serve), the sites that opted in to HSTS, and the
 * platform's wildcard certificate when there is one. `version` is a digest of the rest and the ETag.
 */
export const NodeTls = t.Object({
  version: t.String(),
  domain: t.String(),
  domains: t.Array(RoutedDomain),
  hsts: t.Optional(t.Array(t.String())),
  wildcard: t.Optional(t.Object({ cert_pem: t.String(), key_pem: t.String() })),
});
export type NodeTls = typeof NodeTls.static;
