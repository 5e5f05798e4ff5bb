import { t } from "elysia";
import { Id } from "./common";

const Count = t.Integer({ minimum: 1, maximum: 1_000_000_000 });
const Bytes = t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });

/** Quota is one account's limits as they apply (an admin's override, else the master's default). */
export const Quota = t.Object({
  sites: Count,
  deploys_per_hour: Count,
  /** bytes: total size of the account's deployments that nodes keep. */
  bytes: Bytes,
  files_per_deployment: Count,
});
export type Quota = typeof Quota.static;

/**
 * QuotaUpdate is PATCH /api/users/:id/quota (admin): a number sets that limit for the account, null
 * returns it to the master's default, an absent field stays as it is.
 */
export const QuotaUpdate = t.Object({
  sites: t.Optional(t.Union([Count, t.Null()])),
  deploys_per_hour: t.Optional(t.Union([Count, t.Null()])),
  bytes: t.Optional(t.Union([Bytes, t.Null()])),
  files_per_deployment: t.Optional(t.Union([Count, t.Null()])),
});
export type QuotaUpdate = typeof QuotaUpdate.static;

/** QuotaInfo answers GET /api/user/quota (own) and the admin's GET/PATCH /api/users/:id/quota. */
export const QuotaInfo = t.Object({
  user_id: Id,
  /** exempt: admins are not limited by quotas. */
  exempt: t.Boolean(),
  limits: Quota,
  /** overrides: what an admin set for this account (null: the master's default). */
  overrides: t.Object({
    sites: t.Union([t.Integer(), t.Null()]),
    deploys_per_hour: t.Union([t.Integer(), t.Null()]),
    bytes: t.Union([t.Integer(), t.Null()]),
    files_per_deployment: t.Union([t.Integer(), t.Null()]),
  }),
  usage: t.Object({
    sites: t.Integer(),
    deploys_last_hour: t.Integer(),
    bytes: t.Integer(),
  }),
});
export type QuotaInfo = typeof QuotaInfo.static;
