/**
 * RESERVED_SITE_NAMES are host labels no site may take: `<name>.<domain>` would pose as the platform
 * (www, admin, api, the master's and nodes' own names), as mail or DNS infrastructure, or as a name
 * certificate authorities and clients look up on their own (autodiscover, wpad, acme-challenge).
 * The one list: the master refuses these on site creation, including the site a deploy creates.
 */
export const RESERVED_SITE_NAMES: ReadonlySet<string> = new Set([
  // the platform itself
  "www", "admin", "administrator", "api", "app", "dashboard", "console", "portal", "ui", "sprout", "master",
  "gateway", "agent", "node", "nodes", "preview", "status", "static", "assets", "cdn", "login", "auth",
  "account", "accounts", "signup", "register", "billing", "support", "help", "docs", "security", "root",
  "internal", "localhost",
  // mail and DNS
  "mail", "email", "webmail", "smtp", "imap", "pop", "pop3", "mx", "ns", "ns1", "ns2", "ns3", "ns4", "dns",
  "ftp", "sftp", "autodiscover", "autoconfig", "wpad", "isatap",
  // names looked up by certificate authorities and verifiers (with the `_` a site name cannot hold)
  "acme-challenge", "acme", "well-known", "domainkey", "dmarc", "mta-sts",
]);

/** isReservedSiteName tells whether a (lower-case) site name is reserved. */
export const isReservedSiteName = (name: string): boolean => RESERVED_SITE_NAMES.has(name);
