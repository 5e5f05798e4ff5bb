// Migrations are embedded in the binary: drizzle's migrate({ migrationsFolder }) reads from disk,
// which a compiled `sprout` does not have. Add each new file of `bunx drizzle-kit generate` here.
import m0000 from "./migrations/0000_init.sql" with { type: "text" };
import m0001 from "./migrations/0001_accounts.sql" with { type: "text" };
import m0002 from "./migrations/0002_quotas.sql" with { type: "text" };
import m0003 from "./migrations/0003_agents.sql" with { type: "text" };
import m0004 from "./migrations/0004_generations.sql" with { type: "text" };
import m0005 from "./migrations/0005_messages.sql" with { type: "text" };
import m0006 from "./migrations/0006_nodes.sql" with { type: "text" };
import m0007 from "./migrations/0007_gateway.sql" with { type: "text" };
import m0008 from "./migrations/0008_audit.sql" with { type: "text" };
import m0009 from "./migrations/0009_alerts.sql" with { type: "text" };
import m0010 from "./migrations/0010_traffic.sql" with { type: "text" };
import m0011 from "./migrations/0011_sites_page.sql" with { type: "text" };
import m0012 from "./migrations/0012_agent_tls.sql" with { type: "text" };
import m0013 from "./migrations/0013_disabled_users.sql" with { type: "text" };
import m0014 from "./migrations/0014_manifest_chunks.sql" with { type: "text" };
import m0015 from "./migrations/0015_production_requested.sql" with { type: "text" };
import m0016 from "./migrations/0016_released_domains.sql" with { type: "text" };

/** MIGRATIONS in the order they apply. Names are recorded in `__sprout_migrations`. */
export const MIGRATIONS: { name: string; sql: string }[] = [
  { name: "0000_init", sql: m0000 },
  { name: "0001_accounts", sql: m0001 },
  { name: "0002_quotas", sql: m0002 },
  { name: "0003_agents", sql: m0003 },
  { name: "0004_generations", sql: m0004 },
  { name: "0005_messages", sql: m0005 },
  { name: "0006_nodes", sql: m0006 },
  { name: "0007_gateway", sql: m0007 },
  { name: "0008_audit", sql: m0008 },
  { name: "0009_alerts", sql: m0009 },
  { name: "0010_traffic", sql: m0010 },
  { name: "0011_sites_page", sql: m0011 },
  { name: "0012_agent_tls", sql: m0012 },
  { name: "0013_disabled_users", sql: m0013 },
  { name: "0014_manifest_chunks", sql: m0014 },
  { name: "0015_production_requested", sql: m0015 },
  { name: "0016_released_domains", sql: m0016 },
];
