import { UsageError, type Command } from "../../shared/command";
import type { AuditEntry } from "../../protocol/audit";
import { Api } from "../api";
import { JSON_OPT, action, out } from "../action";
import { ago, table } from "../output";

/** auditCommand shows the audit log (admin): who changed what, from where, newest first. */
export const auditCommand: Command = {
  name: "audit",
  group: "account",
  summary: "The audit log: who changed what, from where (admin)",
  usage: "audit [--user EMAIL] [--action PREFIX] [--limit N] [--json]",
  options: {
    user: { type: "string", value: "EMAIL", description: "Only this user's actions" },
    action: { type: "string", value: "PREFIX", description: "Only actions starting with this, e.g. site. or user.login" },
    limit: { type: "string", value: "N", description: "How many entries (default 100, at most 1000)" },
    ...JSON_OPT,
  },
  examples: ["sprout audit", "sprout audit --action user.login", "sprout audit --user alice@example.com --json"],
  run: action(async (v) => {
    const q = new URLSearchParams();
    if (typeof v.user === "string") q.set("user", v.user);
    if (typeof v.action === "string") q.set("action", v.action);
    if (v.limit !== undefined) {
      const n = Number(v.limit);
      if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError("--limit must be a whole number from 1 to 1000");
      q.set("limit", String(n));
    }
    const list = await Api.fromEnv().call<AuditEntry[]>("GET", `/api/audit${q.size ? `?${q}` : ""}`);
    return out(v, list, () =>
      list.length
        ? table(["WHEN", "WHO", "ACTION", "TARGET", "FROM", "OUTCOME"], list.map((e) => [ago(e.at), e.user ?? "", e.action, e.target ?? "", e.ip ?? "", e.outcome]))
        : "Nothing recorded yet.\n",
    );
  }),
};
