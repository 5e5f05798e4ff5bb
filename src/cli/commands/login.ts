import * as p from "@clack/prompts";
import { UsageError, type Command } from "../../shared/command";
import type { Registered, TokenPair } from "../../protocol/user";
import { Api } from "../api";
import { PROFILE_OPT, action } from "../action";
import { loadStore, profileNameFor, putProfile, selectProfile } from "../credentials";
import { normalizeMaster } from "../master-url";
import { green, info } from "../output";
import { normalizePin } from "../../shared/tls";

export const loginCommand: Command = {
  name: "login",
  group: "account",
  summary: "Log in to a master and keep it as a profile (interactive, or with flags for scripts)",
  usage: "login [--master URL] [--email EMAIL --password PASSWORD] [--profile NAME] [--register]",
  options: {
    master: { type: "string", value: "URL", description: "The master's URL (without a scheme: https://, or http:// for this machine)", env: "SPROUT_MASTER" },
    email: { type: "string", value: "EMAIL", description: "Your email" },
    password: { type: "string", value: "PASSWORD", description: "Your password (prefer the prompt or SPROUT_PASSWORD)", env: "SPROUT_PASSWORD" },
    register: { type: "boolean", description: "Create the account first (when the master's registration is open)" },
    pin: { type: "string", value: "sha256//...", description: "Pin of the master's self-signed certificate (printed by `sprout master`); kept with the profile", env: "SPROUT_MASTER_PIN" },
    ...PROFILE_OPT,
  },
  examples: [
    "sprout login",
    "sprout login --master http://127.0.0.1:7000 --email me@example.com --password '...'",
    "sprout login --master sprout.example.com --profile prod      # https:// is assumed",
    "sprout login --register --master https://sprout.example.com",
    "sprout login --master https://10.0.0.1:7000 --pin sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
  ],
  run: action(async (v) => {
    const interactive = Boolean(process.stdin.isTTY);
    const ask = async (message: string, secret = false, initial?: string): Promise<string> => {
      if (!interactive) throw new UsageError(`${message} is required (no terminal to ask on)`);
      const r = secret ? await p.password({ message }) : await p.text({ message, initialValue: initial });
      if (p.isCancel(r)) throw new UsageError("cancelled");
      return String(r);
    };
    const store = loadStore();
    const named = typeof v.profile === "string" && v.profile ? v.profile : undefined;
    const typed = typeof v.master === "string" ? v.master : await ask("Master URL", false, (named && store.profiles[named]?.master) || selectProfile(store, {})?.profile.master || "http://127.0.0.1:7000");
    const master = normalizeMaster(typed);
    if (master !== typed.trim().replace(/\/+$/, "")) info(`Using ${master}`);
    const email = typeof v.email === "string" ? v.email : await ask("Email");
    const password = typeof v.password === "string" ? v.password : await ask("Password", true);
    const pin = typeof v.pin === "string" && v.pin ? normalizePin(v.pin, "--pin") : undefined;
    const api = new Api(master, null, null, pin ?? null);
    // Registration answers alike for new and existing emails; the login below tells which it was.
    if (v.register) await api.call<Registered>("POST", "/api/user", { email, password }, false);
    const pair = await api.call<TokenPair>("POST", "/api/user/token", { email, password }, false);
    const name = named ?? Object.entries(store.profiles).find(([, x]) => x.master === master)?.[0] ?? profileNameFor(master);
    const { madeCurrent } = await putProfile(name, { master, email, access_token: pair.access_token, refresh_token: pair.refresh_token, ...(pin ? { pin } : {}) }, named ? "if-none" : "always");
    process.stderr.write(`${green("✔")} Logged in to ${master} as ${email} (profile ${name}${madeCurrent ? ", the default" : `; use it with --profile ${name}`}).\n`);
  }),
};
