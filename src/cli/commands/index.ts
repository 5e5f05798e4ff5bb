import type { Command } from "../command";
import { masterCommand } from "../../master/command";
import { agentCommand } from "../../agent/command";
import { upCommand } from "./up";
import { loginCommand } from "./login";
import { logoutCommand } from "./logout";
import { whoamiCommand } from "./whoami";
import { sitesCommand } from "./sites";
import { deployCommand } from "./deploy";
import { deploymentsCommand } from "./deployments";
import { promoteCommand } from "./promote";
import { rollbackCommand } from "./rollback";
import { agentsCommand } from "./agents";
import { tokensCommand } from "./tokens";
import { usersCommand } from "./users";
import { domainsCommand } from "./domains";

/** COMMANDS is every verb of `sprout`, in the order `sprout --help` lists them. */
export const COMMANDS: Command[] = [
  upCommand,
  masterCommand,
  agentCommand,
  deployCommand,
  sitesCommand,
  domainsCommand,
  deploymentsCommand,
  promoteCommand,
  rollbackCommand,
  loginCommand,
  logoutCommand,
  whoamiCommand,
  tokensCommand,
  usersCommand,
  agentsCommand,
];
