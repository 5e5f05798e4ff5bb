import { UsageError, unknownSubcommand, type Command } from "../../shared/command";
import type { UserCreate, UserCreated, UserInfo } from "../../protocol/user";
import { Api } from "../api";
import { API_OPTS, JSON_OPT, action, out } from "../action";
import { ago, table } from "../output";

/** usersCommand is the admin's view of accounts: list them, invite one (registration is closed by default). */
export const usersCommand: Command = {
  name: "users",
  group: "account",
  summary: "Accounts on this master: list, invite (admin)",
  usage: "users [list | invite EMAIL [--password PASSWORD]] [--json]",
  options: {
    password: { type: "string", value: "PASSWORD", description: "The new user's password (default: generated and shown once)", env: "SPROUT_NEW_USER_PASSWORD" },
    ...JSON_OPT,
    ...API_OPTS,
  },
  subcommands: ["list", "invite"],
  examples: ["sprout users", "sprout users invite alice@example.com"],
  run: action(async (v, pos) => {
    const api = Api.fromEnv(v);
    const [sub = "list", email] = pos;
    if (sub === "list") {
      const list = await api.call<UserInfo[]>("GET", "/api/users");
      return out(v, list, () => table(["ID", "EMAIL", "ADMIN", "CREATED"], list.map((u) => [u.id, u.email, u.is_admin ? "yes" : "", ago(u.created_at)])));
    }
    if (sub === "invite") {
      if (!email) throw new UsageError("users invite needs an EMAIL");
      const req: UserCreate = { email };
      if (typeof v.password === "string") req.password = v.password;
      const u = await api.call<UserCreated>("POST", "/api/users", req);
      return out(v, u, () =>
        `Created ${u.email}.` +
        (u.password ? ` Password (shown once): ${u.password}\nSend it to them; they log in with:\n  sprout login --master ${api.master} --email ${u.email}\n` : "\n"),
      );
    }
    throw unknownSubcommand(usersCommand, sub);
  }),
};
