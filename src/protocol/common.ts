import { t } from "elysia";

/** ErrorBody is every error answer of the master and the agent: `{"error":{"code","message","hint?"}}`. */
export const ErrorBody = t.Object({
  error: t.Object({
    code: t.String(),
    message: t.String(),
    hint: t.Optional(t.String()),
  }),
});
export type ErrorBody = typeof ErrorBody.static;

/** Id is a lower-case nanoid (see shared/ids.ts), safe inside a host name label. */
export const Id = t.String({ pattern: "^[a-z0-9]{6,32}$" });

/**
 * SiteName is a site's slug: it becomes the host label `<site>.<domain>`, so DNS label rules apply,
 * and it may not contain `--`, which separates a deployment id from the site in preview hosts.
 */
export const SiteName = t.String({
  pattern: "^(?!.*--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
  error: "site name must be 1-63 lower-case letters, digits or single hyphens, not starting or ending with a hyphen",
});

/** Sha256 is a lower-case hex SHA-256 digest. */
export const Sha256 = t.String({ pattern: "^[a-f0-9]{64}$" });

/** Ok is the answer of a command that has nothing else to say. */
export const Ok = t.Object({ ok: t.Literal(true) });
