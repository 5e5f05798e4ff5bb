import * as p from "@clack/prompts";
import { UsageError, type Command } from "../command";
import type { Registered, TokenPair } from "../../protocol/user";
import { Api } from "../api";
import { action } from "../action";
import { loadCredentials, saveCredentials } from "../credentials";
import { green } from "../output";

export const loginCommand: Command = {
  name: "login",
  group: "account",
  summary: "Log in to a master (interactive, or with flags for scripts)",
  usage: "login [--master URL] [--email EMAIL --password PASSWORD] [--register]",
  options: {
    master: { type: "string", value: "URL", description: "The master's URL", env: "SPROUT_MASTER" },
    email: { type: "string", value: "EMAIL", description: "Your email" },
    password: { type: "string", value: "PASSWORD", description: "Your password (prefer the prompt or SPROUT_PASSWORD)", env: "SPROUT_PASSWORD" },
    register: { type: "boolean", description: "Create the account first (when the master's registration is open)" },
  },
  examples: ["sprout login", "sprout login --master http://127.0.0.1:7000 --email me@example.com --password '...'", "sprout login --register --master https://sprout.example.com"],
  run: action(async (v) => {
    const interactive = Boolean(process.stdin.isTTY);
    const ask = async (message: string, secret = false, initial?: string): Promise<string> => {
      if (!interactive) throw new UsageError(`${message} is required (no terminal to ask on)`);
      const r = secret ? await p.password({ message }) : await p.text({ message, initialValue: initial });
      if (p.isCancel(r)) throw new UsageError("cancelled");
      return String(r);
    };
    const master = (typeof v.master === "string" ? v.master : await ask("Master URL", false, loadCredentials()?.master ?? "http://127.0.0.1:7000")).replace(/\/+$/, "");
    const email = typeof v.email === "string" ? v.email : await ask("Email");
    const password = typeof v.password === "string" ? v.password : await ask("Password", true);
    const api = new Api(master, null, null);
    // Registration answers alike for new and existing emails; the login below tells which it was.
    if (v.register) await api.call<Registered>("POST", "/api/user", { email, password }, false);
    const pair = await api.call<TokenPair>("POST", "/api/user/token", { email, password }, false);
    saveCredentials({ master, email, access_token: pair.access_token, refresh_token: pair.refresh_token });
    process.stderr.write(`${green("✔")} Logged in to ${master} as ${email}\n`);
  }),
};
