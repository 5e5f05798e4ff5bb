import { and, eq, ne } from "drizzle-orm";
import type { Db } from "../../db";
import { certificates, domains, releasedDomains, releasedSites, sites } from "../../db/schema";
import type { DnsRecord, DomainInfo } from "../../protocol/domain";
import { badRequest, conflict, notFound } from "../../shared/errors";
import { newId, newSecret } from "../../shared/ids";
import { logger } from "../../shared/log";
import { productionHost } from "../../shared/hosts";
import { now, type MasterConfig } from "../config";
import type { AgentService } from "./agents";
import type { QuotaService } from "./quotas";
import { DnsError, lookup, systemDnsServer, type DnsAnswer, type DnsServer } from "./dns";
import type { SiteService } from "./sites";

const log = logger("domains");
type Row = typeof domains.$inferSelect;

/** CHALLENGE_LABEL prefixes the TXT record that proves a claim: `_sprout-challenge.<domain>`. */
export const CHALLENGE_LABEL = "_sprout-challenge";

/** CHECK_GAP_MS: a domain checked this recently is not looked up again on a user's request. */
export const CHECK_GAP_MS = 2000;

/**
 * DomainService attaches custom domains to sites and verifies them by DNS before they are routed.
 * A name belongs to one site across all accounts: the first claim is proven by a CNAME to the site's
 * platform host (names a CNAME cannot prove, apexes, need the TXT record); once another account
 * claims the name, or claims one another account had verified before, or claims it for a site
 * whose name another account owned before (DNS may still point at that old site, and a deleted
 * site's name is anyone's to take), it must prove control with its own TXT record, and when it does
 * the name moves to it. Every domain is re-checked periodically: an active one whose DNS stops
 * pointing at Sprout becomes `misconfigured` and is no longer routed (a certificate is no longer
 * renewed for it).
 */
export class DomainService {
  /** onVerified runs when a domain becomes active (certificates are issued then; set by AcmeService). */
  onVerified: (domainId: string) => void = () => {};
  private readonly dns: DnsServer;

  constructor(
    private db: Db,
    private config: MasterConfig,
    private sites: SiteService,
    private agents: AgentService,
    private quotas: QuotaService,
  ) {
    this.dns = config.dnsServer ?? systemDnsServer();
  }

  /** add attaches `name` to the caller's site and checks its DNS once at once. */
  async add(ownerId: string, name: string, siteName: string): Promise<DomainInfo> {
    name = name.toLowerCase();
    const platform = this.config.domain.toLowerCase();
    if (name === platform || name.endsWith(`.${platform}`))
      throw badRequest("platform_domain", `${name} is under the platform domain; sites are served there already.`, "Add a domain of your own, e.g. www.example.com.");
    const site = this.sites.owned(ownerId, siteName);
    const rows = this.db.select().from(domains).where(eq(domains.name, name)).all();
    const same = rows.find((r) => r.siteId === site.id);
    if (same) return this.check(same.id);
    const mine = rows.find((r) => r.ownerId === ownerId);
    if (mine) {
      const other = this.db.select({ name: sites.name }).from(sites).where(eq(sites.id, mine.siteId)).get();
      throw conflict("domain_on_other_site", `${name} is attached to your site "${other?.name}".`, `Remove it there first: sprout domains remove ${name}.`);
    }
    this.quotas.checkNewDomain(ownerId);
    const claimedElsewhere = rows.length > 0;
    // A CNAME names a site, and a deleted site's name is anyone's to take: a name another account
    // had verified, or any claim for a site whose name another account owned before, may be
    // pointed at by DNS its owner left behind. Only a TXT record proves such a claim.
    const released = this.db.select().from(releasedDomains).where(eq(releasedDomains.name, name)).get();
    const siteBefore = this.db.select().from(releasedSites).where(eq(releasedSites.name, site.name)).get();
    const releasedByOther = (!!released && released.ownerId !== ownerId) || (!!siteBefore && siteBefore.ownerId !== ownerId);
    const row: Row = {
      id: newId(),
      name,
      siteId: site.id,
      ownerId,
      status: "pending",
      verifyToken: `sprout-${newSecret(24)}`,
      needsTxt: claimedElsewhere || releasedByOther || isApex(name),
      lastError: null,
      checkedAt: null,
      verifiedAt: null,
      createdAt: now(),
    };
    this.db.insert(domains).values(row).run();
    if (claimedElsewhere) log.info("domain claimed by a second account: TXT proof required", { domain: name });
    else if (releasedByOther) log.info("domain or site name another account had: TXT proof required", { domain: name, site: site.name });
    return this.check(row.id);
  }

  list(ownerId: string): DomainInfo[] {
    return this.db.select().from(domains).where(eq(domains.ownerId, ownerId)).orderBy(domains.name).all().map((r) => this.info(r));
  }

  /** owned finds the caller's claim of `name` or throws 404 (another account's claim is not found either). */
  owned(ownerId: string, name: string): Row {
    const row = this.db.select().from(domains).where(and(eq(domains.name, name.toLowerCase()), eq(domains.ownerId, ownerId))).get();
    if (!row) throw notFound(`Domain ${name}`, "List your domains with `sprout domains`.");
    return row;
  }

  remove(ownerId: string, name: string) {
    const row = this.owned(ownerId, name);
    this.db.delete(domains).where(eq(domains.id, row.id)).run();
    log.info("domain removed", { domain: row.name });
  }

  /**
   * check looks the domain up and moves its status: verified -> active (the name leaves any other
   * site's claim); an active one that no longer points here -> misconfigured. A resolver failure
   * changes nothing but the last error: a DNS outage must not take domains offline.
   */
  async check(id: string): Promise<DomainInfo> {
    const row = this.db.select().from(domains).where(eq(domains.id, id)).get();
    if (!row) throw notFound("Domain");
    const site = this.db.select().from(sites).where(eq(sites.id, row.siteId)).get()!;
    const target = productionHost(site.name, this.config.domain);
    let verdict: { ok: boolean; why: string | null; proof?: boolean };
    try {
      // Without a TXT record to prove, a failed TXT lookup (some servers refuse unknown names) is no TXT.
      const [a, txt] = await Promise.all([
        lookup(this.dns, row.name, "A"),
        lookup(this.dns, `${CHALLENGE_LABEL}.${row.name}`, "TXT").catch((e): DnsAnswer => {
          if (row.needsTxt || !(e instanceof DnsError)) throw e;
          return { cnames: [], addresses: [], txt: [] };
        }),
      ]);
      const txtOk = txt.txt.includes(row.verifyToken);
      const cnameOk = a.cnames.includes(target);
      if (txtOk || (!row.needsTxt && cnameOk)) verdict = { ok: true, why: null, proof: txtOk };
      else if (row.needsTxt)
        verdict = { ok: false, why: `The TXT record ${CHALLENGE_LABEL}.${row.name} does not hold this site's token${txt.txt.length ? "" : " (no TXT record found)"}.` };
      else verdict = { ok: false, why: a.cnames.length ? `${row.name} is a CNAME to ${a.cnames[0]}, not to ${target}.` : `${row.name} has no CNAME to ${target}.` };
    } catch (e) {
      if (!(e instanceof DnsError)) throw e;
      this.db.update(domains).set({ lastError: `DNS lookup failed: ${e.message}`, checkedAt: now() }).where(eq(domains.id, id)).run();
      return this.info(this.db.select().from(domains).where(eq(domains.id, id)).get()!);
    }
    // Removed while DNS was asked: nothing to record.
    if (!this.db.select({ id: domains.id }).from(domains).where(eq(domains.id, id)).get()) throw notFound(`Domain ${row.name}`);
    const at = now();
    if (verdict.ok) {
      const becameActive = row.status !== "active";
      this.db.transaction((tx) => {
        // One site per name: a claim proven by TXT ends every other site's claim of it; one that
        // becomes active by its CNAME ends only earlier owners' (a pending claim may still prove more).
        const others = tx.select().from(domains).where(and(eq(domains.name, row.name), ne(domains.id, row.id))).all();
        for (const o of others.filter((o) => verdict.proof || (becameActive && o.status !== "pending"))) {
          tx.delete(domains).where(eq(domains.id, o.id)).run();
          log.warn("domain moved to the site that proved control of it", { domain: row.name });
        }
        tx.update(domains).set({ status: "active", lastError: null, checkedAt: at, ...(becameActive ? { verifiedAt: at } : {}) }).where(eq(domains.id, id)).run();
      });
      if (becameActive) {
        log.info("domain verified", { domain: row.name, site: site.name });
        this.onVerified(id);
      }
    } else {
      const status = row.status === "active" || row.status === "misconfigured" ? "misconfigured" : "pending";
      if (status === "misconfigured" && row.status === "active") log.warn("domain no longer points at Sprout; not routed until it does", { domain: row.name, why: verdict.why });
      this.db.update(domains).set({ status, lastError: verdict.why, checkedAt: at }).where(eq(domains.id, id)).run();
    }
    return this.info(this.db.select().from(domains).where(eq(domains.id, id)).get()!);
  }

  private checking = false;
  private asked = new Map<string, Promise<DomainInfo>>();
  private askedAt = new Map<string, number>();

  /**
   * checkOnRequest is check() asked for by a user (POST /api/domains/:name/check): one lookup per
   * domain at a time, shared by every request meanwhile, and the next no sooner than CHECK_GAP_MS
   * after the last one users asked for (a request within the gap waits for it), so calling the
   * route in a loop cannot make the master ask the resolver at its request rate. Each answer is a
   * lookup made after the request came: a user who just fixed DNS never sees an older result.
   */
  async checkOnRequest(id: string): Promise<DomainInfo> {
    const running = this.asked.get(id);
    if (running) return running;
    if (!this.db.select({ id: domains.id }).from(domains).where(eq(domains.id, id)).get()) throw notFound("Domain");
    const wait = CHECK_GAP_MS - (Date.now() - (this.askedAt.get(id) ?? 0));
    const p = (wait > 0 ? Bun.sleep(wait) : Promise.resolve()).then(() => this.check(id)).finally(() => {
      this.asked.delete(id);
      this.askedAt.set(id, Date.now());
      // Bounded: entries past the gap say nothing.
      if (this.askedAt.size > 10_000) for (const [k, t] of this.askedAt) if (Date.now() - t >= CHECK_GAP_MS) this.askedAt.delete(k);
    });
    this.asked.set(id, p);
    return p;
  }

  /**
   * checkAll re-checks every domain (the periodic job); one failing lookup does not stop the others.
   * A round that outlasts the interval (many names whose DNS times out) is not joined by another:
   * rounds piling up would multiply the lookups in flight without end.
   */
  async checkAll() {
    if (this.checking) return;
    this.checking = true;
    try {
      for (const { id } of this.db.select({ id: domains.id }).from(domains).all()) {
        try {
          await this.check(id);
        } catch (e) {
          log.warn("domain check failed", { error: (e as Error).message });
        }
      }
    } finally {
      this.checking = false;
    }
  }

  /** records says exactly what to create at the DNS provider for this claim. */
  records(row: Row, siteName: string): DnsRecord[] {
    const out: DnsRecord[] = [];
    if (isApex(row.name)) {
      for (const ip of this.gatewayAddresses()) out.push({ type: ip.includes(":") ? "AAAA" : "A", name: row.name, value: ip });
    } else out.push({ type: "CNAME", name: row.name, value: productionHost(siteName, this.config.domain) });
    if (row.needsTxt) out.push({ type: "TXT", name: `${CHALLENGE_LABEL}.${row.name}`, value: row.verifyToken });
    return out;
  }

  /** gatewayAddresses: the IP addresses of the gateways that are up, from their HTTP URLs. */
  private gatewayAddresses(): string[] {
    const ips = new Set<string>();
    for (const g of this.agents.gateways()) {
      if (!g.httpUrl) continue;
      const host = new URL(g.httpUrl).hostname.replace(/^\[|\]$/g, "");
      if (/^[0-9.]+$/.test(host) || host.includes(":")) ips.add(host);
    }
    return [...ips];
  }

  info(r: Row): DomainInfo {
    const site = this.db.select({ name: sites.name }).from(sites).where(eq(sites.id, r.siteId)).get();
    const cert = this.db.select().from(certificates).where(eq(certificates.domainId, r.id)).get();
    return {
      id: r.id,
      name: r.name,
      site: site?.name ?? "",
      status: r.status,
      records: this.records(r, site?.name ?? ""),
      last_error: r.lastError,
      checked_at: r.checkedAt,
      verified_at: r.verifiedAt,
      certificate: cert ? { status: cert.status, expires_at: cert.expiresAt, last_error: cert.lastError, next_attempt_at: cert.nextAttemptAt } : null,
      created_at: r.createdAt,
    };
  }
}

/** isApex: a name of two labels (example.com) cannot be a CNAME; it points at gateways by A/AAAA. */
export function isApex(name: string): boolean {
  return name.split(".").length === 2;
}
