import { and, desc, eq, like } from "drizzle-orm";
import type { Db } from "../../db";
import { auditLog, users } from "../../db/schema";
import type { AuditEntry, AuditQuery } from "../../protocol/audit";
import { now } from "../config";

/**
 * ACTIONS names the API's state-changing routes in the audit log. A route missing here is still
 * recorded, as "METHOD /route". Agents' own channel (heartbeats, tasks, status reports) and token
 * refreshes are not actions of a person and are left out.
 */
const ACTIONS: Record<string, string> = {
  "POST /api/user": "user.register",
  "POST /api/user/token": "user.login",
  "POST /api/user/password": "user.password",
  "POST /api/token/revoke": "user.logout",
  "POST /api/tokens": "token.create",
  "DELETE /api/tokens/:id": "token.revoke",
  "POST /api/users": "user.invite",
  "POST /api/site": "site.create",
  "DELETE /api/site": "site.delete",
  "DELETE /api/site/:name": "site.delete",
  "PATCH /api/site/:name": "site.update",
  "POST /api/site/:name/promote": "site.promote",
  "POST /api/site/:name/rollback": "site.rollback",
  "POST /api/site/:name/cancel": "deployment.cancel",
  "POST /api/deployment": "deployment.create",
  "POST /api/agent": "agent.create",
  "POST /api/:agent_id/token": "agent.rotate_token",
  "POST /api/agent/:id/url": "agent.set_url",
  "POST /api/agents/upgrade": "agent.upgrade",
  "POST /api/agent/:id/token": "agent.rotate_token",
  "POST /api/agent/:id/drain": "agent.drain",
  "DELETE /api/agent/:id": "agent.remove",
  "POST /api/domains": "domain.add",
  "POST /api/domains/:name/check": "domain.check",
  "DELETE /api/domains/:name": "domain.remove",
  "PATCH /api/users/:id/quota": "quota.update",
  "POST /api/users/:id/disable": "user.disable",
};
const IGNORED = new Set(["POST /api/agent/heartbeat", "POST /api/deployment/status", "POST /api/agent/tasks/:id/result", "POST /api/token/refresh"]);

/** AuditService writes and reads the audit log. */
export class AuditService {
  constructor(private db: Db) {}

  /** actionOf names a request's action, or null when it is not audited. */
  actionOf(method: string, route: string): string | null {
    const key = `${method} ${route}`;
    if (method === "GET" || method === "HEAD" || method === "OPTIONS" || IGNORED.has(key) || !route.startsWith("/api/")) return null;
    return ACTIONS[key] ?? key;
  }

  record(e: { userId: string | null; action: string; target: string | null; ip: string | null; outcome?: string }) {
    this.db.insert(auditLog).values({ userId: e.userId, action: e.action, target: e.target?.slice(0, 200) ?? null, ip: e.ip, outcome: e.outcome ?? "ok", at: now() }).run();
  }

  list(q: AuditQuery): AuditEntry[] {
    const where = and(q.action ? like(auditLog.action, `${q.action}%`) : undefined, q.user ? eq(users.email, q.user.toLowerCase()) : undefined);
    return this.db
      .select({ id: auditLog.id, at: auditLog.at, user: users.email, action: auditLog.action, target: auditLog.target, ip: auditLog.ip, outcome: auditLog.outcome })
      .from(auditLog)
      .leftJoin(users, eq(users.id, auditLog.userId))
      .where(where)
      .orderBy(desc(auditLog.id))
      .limit(q.limit ?? 100)
      .all();
  }
}
