import { t } from "elysia";

/** AuditEntry is one line of GET /api/audit (admin): who did what, on what, from where, when. */
export const AuditEntry = t.Object({
  id: t.Integer(),
  at: t.String(),
  user: t.Union([t.String(), t.Null()]),
  action: t.String(),
  target: t.Union([t.String(), t.Null()]),
  ip: t.Union([t.String(), t.Null()]),
  outcome: t.String(),
});
export type AuditEntry = typeof AuditEntry.static;

/** AuditQuery filters GET /api/audit. */
export const AuditQuery = t.Object({
  user: t.Optional(t.String({ maxLength: 254 })),
  action: t.Optional(t.String({ maxLength: 100 })),
  limit: t.Optional(t.Numeric({ minimum: 1, maximum: 1000 })),
});
export type AuditQuery = typeof AuditQuery.static;
