// Certificate alerts (operations issue): a certificate that failed to issue, or an active one
// within 14 days of its end (renewal should have replaced it at 30), fires once and resolves once,
// delivered to a real local webhook.
import { afterAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { openDb } from "../../src/db";
import { certificates, domains, sites, users } from "../../src/db/schema";
import { AlertService } from "../../src/master/services/alerts";

const received: { kind: string; subject: string; status: string; message: string }[] = [];
const hook = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async (req) => (received.push(await req.json()), new Response("ok")) });
afterAll(() => hook.stop(true));

const until = async (f: () => boolean) => {
  const end = Date.now() + 5000;
  while (!f() && Date.now() < end) await Bun.sleep(20);
};

test("a failed certificate and one about to expire fire once each and resolve once when fixed", async () => {
  const db = openDb(":memory:");
  const at = new Date().toISOString();
  db.insert(users).values({ id: "u1", email: "a@example.com", passwordHash: "x", createdAt: at }).run();
  db.insert(sites).values({ id: "s1", name: "shop", ownerId: "u1", createdAt: at }).run();
  for (const [id, name] of [["d1", "www.example.com"], ["d2", "old.example.com"]] as const)
    db.insert(domains).values({ id, name, siteId: "s1", ownerId: "u1", verifyToken: "t", createdAt: at }).run();
  db.insert(certificates).values({ domainId: "d1", status: "failed", lastError: "rate limited", updatedAt: at }).run();
  db.insert(certificates).values({ domainId: "d2", status: "active", expiresAt: new Date(Date.now() + 3 * 86400_000).toISOString(), updatedAt: at }).run();
  const alerts = new AlertService(db, { webhooks: [`http://127.0.0.1:${hook.port}/`], diskLowBytes: 1 });
  alerts.evaluate();
  alerts.evaluate();
  await until(() => received.length >= 2);
  await Bun.sleep(200);
  expect(received.map((a) => `${a.status} ${a.kind} ${a.subject}`).sort()).toEqual(["firing certificate_expiring old.example.com", "firing certificate_failed www.example.com"]);
  expect(received.find((a) => a.kind === "certificate_failed")!.message).toContain("rate limited");

  db.update(certificates).set({ status: "active", expiresAt: new Date(Date.now() + 80 * 86400_000).toISOString() }).where(eq(certificates.domainId, "d1")).run();
  db.update(certificates).set({ expiresAt: new Date(Date.now() + 80 * 86400_000).toISOString() }).where(eq(certificates.domainId, "d2")).run();
  alerts.evaluate();
  alerts.evaluate();
  await until(() => received.length >= 4);
  await Bun.sleep(200);
  expect(received.slice(2).map((a) => `${a.status} ${a.kind} ${a.subject}`).sort()).toEqual(["resolved certificate_expiring old.example.com", "resolved certificate_failed www.example.com"]);
});
