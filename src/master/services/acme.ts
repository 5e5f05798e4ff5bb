import { Agent as HttpsAgent } from "node:https";
import * as acme from "acme-client";
import { and, eq } from "drizzle-orm";
import type { Db } from "../../db";
import { certificates, domains, kv } from "../../db/schema";
import { logger } from "../../shared/log";
import { now, type AcmeConfig } from "../config";

const log = logger("acme");

/** RENEW_BEFORE_MS: by default a certificate is renewed 30 days before it expires (`--acme-renew-before`). */
export const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

const WILDCARD_KEY = "acme_wildcard";
const HOUR_MS = 3600_000;

/** WildcardState is the platform's `*.<domain>` certificate got by DNS-01, kept in the master's kv table. */
export interface WildcardState {
  cert_pem: string | null;
  key_pem: string | null;
  expires_at: string;
  last_error: string | null;
  attempts: number;
  next_attempt_at: string | null;
}

/** runDnsHook runs the operator's DNS-01 hook; it fails with the end of the hook's output when it exits non-zero. */
async function runDnsHook(hook: string, action: "add" | "remove", name: string, value: string): Promise<void> {
  const p = Bun.spawn(["sh", "-c", `${hook} "$@"`, "sprout-dns-hook", action, name, value], { stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 10 * 60_000 });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  if (code !== 0) throw new Error(`--acme-dns-hook ${action} ${name} exited with ${code}: ${(err || out).trim().slice(-300)}`);
}

/** backoffMs: after the n-th failure in a row, wait 1 min, 2, 4, ... at most 24 h (CA rate limits). */
export const backoffMs = (attempts: number) => Math.min(60_000 * 2 ** Math.max(0, attempts - 1), 24 * 3600 * 1000);

/** ACME_DIRECTORIES are the CAs known by name to `--acme-directory`. */
export const ACME_DIRECTORIES: Record<string, string> = {
  letsencrypt: acme.directory.letsencrypt.production,
  "letsencrypt-staging": acme.directory.letsencrypt.staging,
};

/**
 * AcmeService gets certificates for verified custom domains from an ACME CA (RFC 8555) by HTTP-01.
 * The challenge answers live in the master's memory and are served at
 * `/.well-known/acme-challenge/<token>`, where every gateway proxies that path: a challenge needs
 * no gateway reload. Certificates and keys are kept in the master's 0600 database and reach the
 * gateways with their routes (one reload per batch). A certificate is issued as soon as its domain
 * is verified and renewed 30 days before expiry; failures are retried with exponential backoff.
 */
export class AcmeService {
  private readonly answers = new Map<string, string>();
  private client: acme.Client | null = null;
  private busy = new Set<string>();

  /** orders: each account's certificate order times of the last hour, oldest first (see issue). */
  private orders = new Map<string, number[]>();

  constructor(
    private db: Db,
    private config: AcmeConfig,
    /** ordersPerHour: the certificate orders an account's domains may cost per hour; null: not limited. */
    private ordersPerHour: (ownerId: string) => number | null = () => null,
  ) {
    // The CA's own HTTPS may be signed by a CA of the operator's (pebble in tests).
    if (config.caPem) acme.axios.defaults.httpsAgent = new HttpsAgent({ ca: config.caPem });
  }

  /** challenge answers an HTTP-01 token with its key authorization, or null. */
  challenge(token: string): string | null {
    return this.answers.get(token) ?? null;
  }

  private async account(): Promise<acme.Client> {
    if (this.client) return this.client;
    let key = this.db.select().from(kv).where(eq(kv.key, "acme_account_key")).get()?.value;
    if (!key) {
      key = (await acme.crypto.createPrivateKey()).toString();
      this.db.insert(kv).values({ key: "acme_account_key", value: key }).onConflictDoNothing().run();
    }
    this.client = new acme.Client({ directoryUrl: this.config.directory, accountKey: key });
    return this.client;
  }

  /** issue gets (or renews) the certificate of a domain; failures are recorded with the next try's time. */
  async issue(domainId: string): Promise<void> {
    if (this.busy.has(domainId)) return;
    const d = this.db.select().from(domains).where(and(eq(domains.id, domainId), eq(domains.status, "active"))).get();
    if (!d) return;
    const at = now();
    this.db.insert(certificates).values({ domainId, status: "pending", updatedAt: at }).onConflictDoNothing().run();
    if (!this.takeOrder(d.ownerId, domainId, d.name)) return;
    this.busy.add(domainId);
    try {
      const client = await this.account();
      // ECDSA P-256: an ECDSA handshake costs a fraction of an RSA-2048 one, and every current
      // client accepts it.
      const [key, csr] = await acme.crypto.createCsr({ commonName: d.name, altNames: [d.name] }, await acme.crypto.createPrivateEcdsaKey());
      const cert = await client.auto({
        csr,
        email: this.config.email,
        termsOfServiceAgreed: true,
        challengePriority: ["http-01"],
        // The CA checks through the gateways; checking first from here would use another resolver.
        skipChallengeVerification: true,
        challengeCreateFn: async (_a, c, keyAuthorization) => void this.answers.set(c.token, keyAuthorization),
        challengeRemoveFn: async (_a, c) => void this.answers.delete(c.token),
      });
      const info = acme.crypto.readCertificateInfo(cert);
      this.db
        .update(certificates)
        .set({ status: "active", certPem: cert, keyPem: key.toString(), expiresAt: info.notAfter.toISOString(), lastError: null, attempts: 0, nextAttemptAt: null, updatedAt: now() })
        .where(eq(certificates.domainId, domainId))
        .run();
      log.info("certificate issued", { domain: d.name, expires: info.notAfter.toISOString() });
    } catch (e) {
      const row = this.db.select().from(certificates).where(eq(certificates.domainId, domainId)).get();
      const attempts = (row?.attempts ?? 0) + 1;
      const message = (e as Error).message.slice(0, 500);
      // A certificate still valid keeps being served (status stays active) while renewal retries.
      const status = row?.certPem && row.expiresAt && row.expiresAt > now() ? "active" : "failed";
      this.db
        .update(certificates)
        .set({ status, lastError: message, attempts, nextAttemptAt: new Date(Date.now() + backoffMs(attempts)).toISOString(), updatedAt: now() })
        .where(eq(certificates.domainId, domainId))
        .run();
      log.warn("certificate request failed; will retry", { domain: d.name, attempts, error: message });
    } finally {
      this.busy.delete(domainId);
    }
  }

  /**
   * takeOrder counts an order against the domain's account, or, when the account had its hour's
   * orders, records when the domain's turn comes and answers false. The CA limits orders per ACME
   * account, and all of the master's are one account: without this, one tenant adding names (a
   * wildcard CNAME makes them free) or removing and adding one again, each a new order, could use
   * up what every site's certificates and renewals need. Checked before any await, so domains
   * verified together cannot all pass the last slot.
   */
  private takeOrder(ownerId: string, domainId: string, name: string): boolean {
    const limit = this.ordersPerHour(ownerId);
    if (limit === null) return true;
    const since = Date.now() - HOUR_MS;
    const list = (this.orders.get(ownerId) ?? []).filter((t) => t > since);
    if (list.length < limit) {
      list.push(Date.now());
      this.orders.set(ownerId, list);
      return true;
    }
    this.orders.set(ownerId, list);
    const turn = new Date(list[list.length - limit]! + HOUR_MS).toISOString();
    // A certificate still valid stays active; the next try waits for the turn (see due()).
    this.db
      .update(certificates)
      .set({ lastError: `Waiting: this account's domains had ${limit} certificates requested in the last hour, the most its quota allows (--quota-certificates-per-hour).`, nextAttemptAt: turn, updatedAt: now() })
      .where(eq(certificates.domainId, domainId))
      .run();
    log.info("certificate request waits for the account's hourly quota", { domain: name, until: turn });
    return false;
  }

  /**
   * due lists the active domains that need a certificate now: none yet (or a failed one whose backoff
   * passed), or one that expires within the renewal window (30 days unless `--acme-renew-before`).
   */
  due(): string[] {
    const soon = new Date(Date.now() + (this.config.renewBeforeMs ?? RENEW_BEFORE_MS)).toISOString();
    const at = now();
    return this.db
      .select({ id: domains.id, cert: certificates })
      .from(domains)
      .leftJoin(certificates, eq(certificates.domainId, domains.id))
      .where(eq(domains.status, "active"))
      .all()
      .filter(({ cert }) => {
        if (!cert) return true;
        if (cert.nextAttemptAt && cert.nextAttemptAt > at) return false;
        return !cert.certPem || cert.status === "failed" || (cert.expiresAt ?? "") < soon;
      })
      .map((r) => r.id);
  }

  /** renewDue issues what is due, one at a time (the renewal job), the platform's wildcard too. */
  async renewDue() {
    for (const id of this.due()) await this.issue(id);
    if (this.wildcardDomain && this.config.dnsHook && this.wildcardDue()) await this.issueWildcard();
  }

  /** wildcardDomain: the platform domain whose `*.` certificate is got by DNS-01 (set with --acme-dns-hook). */
  wildcardDomain: string | null = null;

  /** wildcard answers the platform's wildcard certificate got by DNS-01, or null. */
  wildcard(): WildcardState | null {
    const v = this.db.select().from(kv).where(eq(kv.key, WILDCARD_KEY)).get()?.value;
    return v ? (JSON.parse(v) as WildcardState) : null;
  }

  private saveWildcard(w: WildcardState) {
    const value = JSON.stringify(w);
    this.db.insert(kv).values({ key: WILDCARD_KEY, value }).onConflictDoUpdate({ target: kv.key, set: { value } }).run();
  }

  private wildcardDue(): boolean {
    const w = this.wildcard();
    if (!w?.cert_pem) return !w?.next_attempt_at || w.next_attempt_at <= now();
    if (w.next_attempt_at && w.next_attempt_at > now()) return false;
    return w.expires_at < new Date(Date.now() + (this.config.renewBeforeMs ?? RENEW_BEFORE_MS)).toISOString();
  }

  /**
   * issueWildcard gets `*.<domain>` by DNS-01: the operator's hook (`--acme-dns-hook CMD`) is run as
   * `CMD add _acme-challenge.<domain> VALUE` and must return once the TXT record is published (it may
   * wait for its DNS provider), then `CMD remove _acme-challenge.<domain> VALUE` after validation.
   */
  async issueWildcard(): Promise<void> {
    const domain = this.wildcardDomain;
    if (!domain || !this.config.dnsHook || this.busy.has(WILDCARD_KEY)) return;
    this.busy.add(WILDCARD_KEY);
    const before = this.wildcard();
    try {
      const client = await this.account();
      const [key, csr] = await acme.crypto.createCsr({ commonName: `*.${domain}`, altNames: [`*.${domain}`] }, await acme.crypto.createPrivateEcdsaKey());
      const cert = await client.auto({
        csr,
        email: this.config.email,
        termsOfServiceAgreed: true,
        challengePriority: ["dns-01"],
        skipChallengeVerification: true,
        challengeCreateFn: async (a, _c, value) => runDnsHook(this.config.dnsHook!, "add", `_acme-challenge.${a.identifier.value}`, value),
        challengeRemoveFn: async (a, _c, value) => runDnsHook(this.config.dnsHook!, "remove", `_acme-challenge.${a.identifier.value}`, value).catch((e) => log.warn("the DNS hook could not remove a challenge record", { error: (e as Error).message })),
      });
      const info = acme.crypto.readCertificateInfo(cert);
      this.saveWildcard({ cert_pem: cert, key_pem: key.toString(), expires_at: info.notAfter.toISOString(), last_error: null, attempts: 0, next_attempt_at: null });
      log.info("wildcard certificate issued", { domain: `*.${domain}`, expires: info.notAfter.toISOString() });
    } catch (e) {
      const attempts = (before?.attempts ?? 0) + 1;
      const message = (e as Error).message.slice(0, 500);
      this.saveWildcard({ cert_pem: before?.cert_pem ?? null, key_pem: before?.key_pem ?? null, expires_at: before?.expires_at ?? "", last_error: message, attempts, next_attempt_at: new Date(Date.now() + backoffMs(attempts)).toISOString() });
      log.warn("wildcard certificate request failed; will retry", { domain: `*.${domain}`, attempts, error: message });
    } finally {
      this.busy.delete(WILDCARD_KEY);
    }
  }
}
