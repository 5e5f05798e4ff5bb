// The periodic domain check starts every --domain-check-interval seconds. A round over names whose
// DNS does not answer (3 s per lookup) outlasts the interval, and each new round used to start
// anyway: rounds piled up, each asking the resolver again, without end. A round now waits for the
// one under way to finish.
import { afterAll, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../../src/db";
import { MIGRATIONS } from "../../src/db/migrations";
import { domains, sites, users } from "../../src/db/schema";
import { DEFAULT_MASTER_CONFIG } from "../../src/master/config";
import type { AgentService } from "../../src/master/services/agents";
import { CHECK_GAP_MS, DomainService } from "../../src/master/services/domains";
import type { QuotaService } from "../../src/master/services/quotas";
import type { SiteService } from "../../src/master/services/sites";

const dir = mkdtempSync(join(tmpdir(), "sprout-domain-checks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * withSilentResolver runs `f` with a DomainService over one domain, d1, whose resolver never answers:
 * it only counts the questions it gets. Only check() runs: it uses none of the other services.
 */
async function withSilentResolver(dbName: string, f: (service: DomainService, questions: () => number) => Promise<void>) {
  const silent = createSocket("udp4");
  let questions = 0;
  silent.on("message", () => questions++);
  await new Promise<void>((r) => silent.bind(0, "127.0.0.1", r));
  const db = openDb(join(dir, dbName), MIGRATIONS);
  const at = new Date().toISOString();
  db.insert(users).values({ id: "u1", email: "t@example.com", passwordHash: "x", createdAt: at }).run();
  db.insert(sites).values({ id: "s1", name: "blog", ownerId: "u1", createdAt: at }).run();
  db.insert(domains).values({ id: "d1", name: "www.example.test", siteId: "s1", ownerId: "u1", verifyToken: "t", createdAt: at }).run();
  const service = new DomainService(db, { ...DEFAULT_MASTER_CONFIG, domain: "sprout.test", dnsServer: { host: "127.0.0.1", port: silent.address().port } }, {} as SiteService, {} as AgentService, {} as QuotaService);
  try {
    await f(service, () => questions);
  } finally {
    silent.close();
    db.$client.close();
  }
}

test("a periodic check does not start while the one before is still under way", async () => {
  await withSilentResolver("master.db", async (service, questions) => {
    const first = service.checkAll();
    await Bun.sleep(300);
    const second = service.checkAll();
    await Bun.sleep(300);
    // One round: the A and TXT lookups of the one name.
    expect(questions()).toBe(2);
    await Promise.all([first, second]);
  });
}, 20_000);

test("checks asked for by users share one lookup per domain, and the next waits for a gap", async () => {
  await withSilentResolver("asked.db", async (service, questions) => {
    // A tenant calling the route in a loop: 50 requests at once.
    const answers = await Promise.all(Array.from({ length: 50 }, () => service.checkOnRequest("d1")));
    expect(questions()).toBe(2);
    expect(answers.every((a) => a.last_error?.startsWith("DNS lookup failed"))).toBe(true);
    // Asked again at once: the next lookup waits for the gap, and requests meanwhile share it.
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 20 }, () => service.checkOnRequest("d1")));
    expect(questions()).toBe(4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(CHECK_GAP_MS - 50);
  });
}, 20_000);
