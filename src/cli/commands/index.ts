import type { Command } from "../../shared/command";
import { masterCommand } from "../../master/command";
import { agentCommand } from "../../agent/command";
import { upCommand } from "./up";
import { loginCommand } from "./login";
import { logoutCommand } from "./logout";
import { whoamiCommand } from "./whoami";
import { profilesCommand } from "./profiles";
import { sitesCommand } from "./sites";
import { deployCommand } from "./deploy";
import { deploymentsCommand } from "./deployments";
import { promoteCommand } from "./promote";
import { rollbackCommand } from "./rollback";
import { initCommand } from "./init";
import { linkCommand } from "./link";
import { statusCommand } from "./status";
import { openCommand } from "./open";
import { logsCommand } from "./logs";
import { agentsCommand } from "./agents";
import { tokensCommand } from "./tokens";
import { usersCommand } from "./users";
import { auditCommand } from "./audit";
import { statsCommand } from "./stats";
import { completionCommand } from "./completion";
import { domainsCommand } from "./domains";
import { upgradeCommand } from "./upgrade";

/** COMMANDS is every verb of `sprout`, in the order `sprout --help` lists them. */
export const COMMANDS: Command[] = [
  upCommand,
  masterCommand,
  agentCommand,
  initCommand,
  linkCommand,
  deployCommand,
  statusCommand,
  openCommand,
  logsCommand,
  sitesCommand,
  domainsCommand,
  deploymentsCommand,
  statsCommand,
  promoteCommand,
  rollbackCommand,
  loginCommand,
  logoutCommand,
  whoamiCommand,
  profilesCommand,
  tokensCommand,
  usersCommand,
  auditCommand,
  agentsCommand,
  upgradeCommand,
  completionCommand(() => COMMANDS),
];
