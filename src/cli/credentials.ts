import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Credentials are what `sprout login` keeps: the master and a session (mode 0600). */
export interface Credentials {
  master: string;
  email: string;
  access_token: string;
  refresh_token: string;
}

/** configDir is $SPROUT_CONFIG_DIR, else $XDG_CONFIG_HOME/sprout, else ~/.config/sprout. */
export function configDir(): string {
  return process.env.SPROUT_CONFIG_DIR || join(process.env.XDG_CONFIG_HOME || join(homedir(), ".config"), "sprout");
}

/** cacheDir is where the hash cache lives: $XDG_CACHE_HOME/sprout or ~/.cache/sprout. */
export function cacheDir(): string {
  return process.env.SPROUT_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "sprout");
}

const file = () => join(configDir(), "credentials.json");

export function loadCredentials(): Credentials | null {
  try {
    return JSON.parse(readFileSync(file(), "utf8")) as Credentials;
  } catch {
    return null;
  }
}

export function saveCredentials(c: Credentials) {
  mkdirSync(configDir(), { recursive: true, mode: 0o700 });
  writeFileSync(file(), JSON.stringify(c, null, 2), { mode: 0o600 });
  chmodSync(file(), 0o600);
}

export function clearCredentials(): boolean {
  if (!existsSync(file())) return false;
  rmSync(file());
  return true;
}
