import type { Command } from "../../shared/command";

/**
 * COMMAND_LOADERS names every verb of `sprout` (in the order `sprout --help` lists them) and loads
 * only the one that runs: a command's module and what it imports (elysia for the master, prompts for
 * login, the tar writer for deploy...) are evaluated when that command is chosen, so a quick command
 * such as `sprout whoami` starts without the rest. `COMMANDS` (./index) holds them all, loaded, for
 * help, completion and the docs; a unit test checks that both lists agree.
 */
export const COMMAND_LOADERS: { name: string; load: () => Promise<Command> }[] = [
  { name: "up", load: async () => (await import("./up")).upCommand },
  { name: "master", load: async () => (await import("../../master/command")).masterCommand },
  { name: "agent", load: async () => (await import("../../agent/command")).agentCommand },
  { name: "init", load: async () => (await import("./init")).initCommand },
  { name: "link", load: async () => (await import("./link")).linkCommand },
  { name: "deploy", load: async () => (await import("./deploy")).deployCommand },
  { name: "status", load: async () => (await import("./status")).statusCommand },
  { name: "open", load: async () => (await import("./open")).openCommand },
  { name: "logs", load: async () => (await import("./logs")).logsCommand },
  { name: "sites", load: async () => (await import("./sites")).sitesCommand },
  { name: "domains", load: async () => (await import("./domains")).domainsCommand },
  { name: "deployments", load: async () => (await import("./deployments")).deploymentsCommand },
  { name: "stats", load: async () => (await import("./stats")).statsCommand },
  { name: "promote", load: async () => (await import("./promote")).promoteCommand },
  { name: "rollback", load: async () => (await import("./rollback")).rollbackCommand },
  { name: "login", load: async () => (await import("./login")).loginCommand },
  { name: "logout", load: async () => (await import("./logout")).logoutCommand },
  { name: "whoami", load: async () => (await import("./whoami")).whoamiCommand },
  { name: "profiles", load: async () => (await import("./profiles")).profilesCommand },
  { name: "tokens", load: async () => (await import("./tokens")).tokensCommand },
  { name: "users", load: async () => (await import("./users")).usersCommand },
  { name: "audit", load: async () => (await import("./audit")).auditCommand },
  { name: "agents", load: async () => (await import("./agents")).agentsCommand },
  { name: "upgrade", load: async () => (await import("./upgrade")).upgradeCommand },
  { name: "completion", load: async () => (await import("./index")).COMMANDS.find((c) => c.name === "completion")! },
];

/** loadAll loads every command (help, "did you mean", completion). */
export async function loadAll(): Promise<Command[]> {
  return (await import("./index")).COMMANDS;
}
