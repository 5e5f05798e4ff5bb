import { tooMany } from "../../shared/errors";

/** Backoff is how failures turn into waiting: `free` failures cost nothing, then the wait doubles. */
interface Backoff {
  free: number;
  baseMs: number;
  maxMs: number;
}

interface Entry {
  failures: number;
  last: number;
}

/**
 * Per account and address: a guesser at one address soon waits minutes between tries, but only
 * there; the owner at another address is not touched.
 */
const ACCOUNT_ADDRESS: Backoff = { free: 4, baseMs: 1_000, maxMs: 15 * 60_000 };
/** Per address, whatever the accounts: one address spraying many accounts is slowed likewise. */
const ADDRESS: Backoff = { free: 20, baseMs: 1_000, maxMs: 15 * 60_000 };
/**
 * Per account, from every address: an attacker rotating addresses makes every attempt on the account
 * wait (a delay, never a refusal), up to a few seconds, so the owner still logs in with the right
 * password after the delay while guessing stays slow.
 */
const ACCOUNT: Backoff = { free: 10, baseMs: 250, maxMs: 5_000 };

/**
 * networkOf is the address as the throttle counts it: an IPv6 address by its /64, since one host
 * commonly holds a whole /64 (it could otherwise try from 2^64 "addresses"); IPv4 as it is.
 */
export function networkOf(address: string): string {
  if (!address.includes(":")) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const [head = "", tail] = address.toLowerCase().split("%")[0]!.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = tail === undefined ? left : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

/** FORGET_MS: failures older than this are forgotten. */
const FORGET_MS = 60 * 60_000;

/** waitMs is how long after its last failure a key must wait, for `failures` failures. */
function waitMs(b: Backoff, failures: number): number {
  if (failures < b.free) return 0;
  return Math.min(b.maxMs, b.baseMs * 2 ** Math.min(30, failures - b.free));
}

/**
 * LoginThrottle slows password guessing with exponential backoff on three keys (see the constants
 * above) and never locks an account: from a fresh address the owner only meets the per-account
 * delay. Its memory is bounded: at most `maxEntries` keys, the least recently failed dropped first,
 * and keys quiet for an hour forgotten.
 */
export class LoginThrottle {
  private entries = new Map<string, Entry>();
  /**
   * inflight counts the password checks under way per key. A failure is known only once its check
   * ends, so without this, guesses sent all at once all passed `before` ahead of the first failure.
   */
  private inflight = new Map<string, number>();

  constructor(
    private maxEntries = 50_000,
    private clock: () => number = Date.now,
  ) {}

  /**
   * before runs ahead of a password check: it refuses (429) when this account and address, or this
   * address, must still wait, and otherwise answers how long to hold the attempt (per-account delay).
   */
  before(account: string, address: string): number {
    address = networkOf(address);
    const t = this.clock();
    const refusing = [[`a:${account}|${address}`, ACCOUNT_ADDRESS], [`i:${address}`, ADDRESS]] as const;
    for (const [key, b] of refusing) {
      const left = this.left(key, b, t);
      if (left > 0) {
        const s = Math.ceil(left / 1000);
        throw tooMany(`Too many failed logins from your address. Try again in ${s} s.`, "Check the email and password; the wait doubles with each failure.");
      }
      // Checks under way count as failures until they end: were they all to fail, this one would wait.
      const pending = this.inflight.get(key) ?? 0;
      if (pending > 0 && waitMs(b, (this.get(key, t)?.failures ?? 0) + pending) > 0)
        throw tooMany("Too many logins at once from your address. Try again in 1 s.", "Send one login at a time.");
    }
    for (const key of [...refusing.map(([k]) => k), `e:${account}`]) this.inflight.set(key, (this.inflight.get(key) ?? 0) + 1);
    return this.left(`e:${account}`, ACCOUNT, t);
  }

  /** done ends a check that `before` let through, whatever its outcome (after failed or succeeded). */
  done(account: string, address: string) {
    address = networkOf(address);
    for (const key of [`a:${account}|${address}`, `i:${address}`, `e:${account}`]) {
      const n = (this.inflight.get(key) ?? 0) - 1;
      if (n > 0) this.inflight.set(key, n);
      else this.inflight.delete(key);
    }
  }

  /** failed records a wrong password (or an unknown account) on the three keys. */
  failed(account: string, address: string) {
    address = networkOf(address);
    const t = this.clock();
    for (const key of [`a:${account}|${address}`, `i:${address}`, `e:${account}`]) {
      const e = this.get(key, t) ?? { failures: 0, last: t };
      this.entries.delete(key);
      this.entries.set(key, { failures: e.failures + 1, last: t });
    }
    this.prune(t);
  }

  /** succeeded forgets the failures of this account at this address (the owner got in from here). */
  succeeded(account: string, address: string) {
    address = networkOf(address);
    this.entries.delete(`a:${account}|${address}`);
  }

  /** size is the number of keys kept (for tests of the bound). */
  get size() {
    return this.entries.size;
  }

  private get(key: string, t: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e && t - e.last > FORGET_MS) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  private left(key: string, b: Backoff, t: number): number {
    const e = this.get(key, t);
    return e ? Math.max(0, e.last + waitMs(b, e.failures) - t) : 0;
  }

  /** prune drops the oldest keys beyond the bound; Map order is least recently failed first. */
  private prune(t: number) {
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.maxEntries && t - e.last <= FORGET_MS) break;
      this.entries.delete(key);
    }
  }
}
