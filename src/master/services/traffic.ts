import { and, asc, eq, gte, inArray, sql } from "drizzle-orm";
import type { Db } from "../../db";
import { sites, siteTraffic } from "../../db/schema";
import type { TrafficCounts } from "../../protocol/agent";
import type { SiteTrafficHour } from "../../protocol/site";

/** TrafficService sums what nodes served per site and hour, and answers it per site. */
export class TrafficService {
  constructor(private db: Db) {}

  /** add sums a node's counts into the hours they belong to (sites the master does not know are skipped). */
  add(counts: TrafficCounts[]) {
    if (!counts.length) return;
    const ids = new Map(this.db.select({ id: sites.id, name: sites.name }).from(sites).where(inArray(sites.name, [...new Set(counts.map((c) => c.site))])).all().map((r) => [r.name, r.id]));
    this.db.transaction((tx) => {
      for (const c of counts) {
        const siteId = ids.get(c.site);
        if (!siteId) continue;
        tx.insert(siteTraffic)
          .values({ siteId, hour: c.hour, requests: c.requests, bytes: Math.round(c.bytes), s2xx: c.s2xx, s3xx: c.s3xx, s4xx: c.s4xx, s5xx: c.s5xx })
          .onConflictDoUpdate({
            target: [siteTraffic.siteId, siteTraffic.hour],
            set: {
              requests: sql`${siteTraffic.requests} + ${c.requests}`,
              bytes: sql`${siteTraffic.bytes} + ${Math.round(c.bytes)}`,
              s2xx: sql`${siteTraffic.s2xx} + ${c.s2xx}`,
              s3xx: sql`${siteTraffic.s3xx} + ${c.s3xx}`,
              s4xx: sql`${siteTraffic.s4xx} + ${c.s4xx}`,
              s5xx: sql`${siteTraffic.s5xx} + ${c.s5xx}`,
            },
          })
          .run();
      }
    });
  }

  /** hours answers a site's traffic for the last `hours` hours, oldest first (hours without traffic left out). */
  hours(siteId: string, hours: number): SiteTrafficHour[] {
    const since = new Date(Date.now() - hours * 3600_000).toISOString().slice(0, 13) + ":00:00Z";
    return this.db
      .select({ hour: siteTraffic.hour, requests: siteTraffic.requests, bytes: siteTraffic.bytes, s2xx: siteTraffic.s2xx, s3xx: siteTraffic.s3xx, s4xx: siteTraffic.s4xx, s5xx: siteTraffic.s5xx })
      .from(siteTraffic)
      .where(and(eq(siteTraffic.siteId, siteId), gte(siteTraffic.hour, since)))
      .orderBy(asc(siteTraffic.hour))
      .all();
  }
}
