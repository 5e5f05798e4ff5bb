import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { SproutError } from "../shared/errors";

/** Profile is one login `sprout login` keeps: a master and a session on it. */
export interface Profile {
  master: string;
  email: string;
  access_token: string;
  refresh_token: string;
  /** pin: the master's self-signed certificate pin (`sprout login --pin`); only that key is accepted. */
  pin?: string;
}

/**
 * CredentialStore is credentials.json (mode 0600): several profiles, one per master (or more, named
 * by `--profile`), and the one used when no `--profile`/SPROUT_PROFILE names another.
 */
export interface CredentialStore {
  current: string | null;
  profiles: Record<string, Profile>;
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

/** loadStore reads credentials.json; the single-login file of earlier versions becomes profile "default". */
export function loadStore(): CredentialStore {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file(), "utf8"));
  } catch {
    return { current: null, profiles: {} };
  }
  const d = data as Partial<CredentialStore> & Partial<Profile>;
  if (d.profiles && typeof d.profiles === "object") return { current: d.current ?? null, profiles: d.profiles };
  if (typeof d.master === "string" && typeof d.refresh_token === "string")
    return { current: "default", profiles: { default: { master: d.master, email: d.email ?? "", access_token: d.access_token ?? "", refresh_token: d.refresh_token } } };
  return { current: null, profiles: {} };
}

/** saveStore writes credentials.json whole (temporary file, then rename: a reader never sees half of it). */
export function saveStore(s: CredentialStore) {
  mkdirSync(configDir(), { recursive: true, mode: 0o700 });
  const tmp = `${file()}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file());
}

/** profileNameFor names a new profile after its master's host and port, e.g. sprout.example.com, 127.0.0.1-7000. */
export function profileNameFor(master: string): string {
  try {
    return new URL(master).host.replace(/[^a-zA-Z0-9.-]+/g, "-").replace(/^-+|-+$/g, "") || "default";
  } catch {
    return "default";
  }
}

/**
 * selectProfile picks the profile a command uses: the one named (`--profile`/SPROUT_PROFILE, which
 * must exist), else, when a master is given, the current profile if it is for that master or any
 * profile that is, else the current profile.
 */
export function selectProfile(store: CredentialStore, opts: { name?: string; master?: string }): { name: string; profile: Profile } | null {
  if (opts.name) {
    const p = store.profiles[opts.name];
    if (!p) {
      const known = Object.keys(store.profiles);
      throw new SproutError(401, "no_profile", `There is no profile "${opts.name}".`, known.length ? `Profiles here: ${known.join(", ")}. Add one with \`sprout login --profile ${opts.name} --master URL\`.` : `Add it with \`sprout login --profile ${opts.name} --master URL\`.`);
    }
    return { name: opts.name, profile: p };
  }
  const cur = store.current ? store.profiles[store.current] : undefined;
  if (opts.master) {
    if (cur && cur.master === opts.master) return { name: store.current!, profile: cur };
    const hit = Object.entries(store.profiles).find(([, p]) => p.master === opts.master);
    return hit ? { name: hit[0], profile: hit[1] } : null;
  }
  return cur ? { name: store.current!, profile: cur } : null;
}

/** LOCK_STALE_MS: a lock file older than this was left by a process that died mid-refresh; it is taken over. */
const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 30_000;

/**
 * withCredentialsLock runs `f` holding credentials.json.lock (created with O_EXCL), so CLIs sharing
 * one login change it one at a time: a refresh token rotates on use and a reused one revokes the
 * whole login, so two processes must never both present the same one. `f` re-reads the store: the
 * process before it may have rotated the tokens already.
 */
export async function withCredentialsLock<T>(f: () => Promise<T> | T): Promise<T> {
  mkdirSync(configDir(), { recursive: true, mode: 0o700 });
  const lock = `${file()}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(lock, "wx", 0o600);
      writeFileSync(fd, `${process.pid} ${new Date().toISOString()}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let age = 0;
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue; // released between our open and stat: try again at once
      }
      if (age > LOCK_STALE_MS) {
        try {
          unlinkSync(lock);
        } catch {
          /* another process took it over first */
        }
        continue;
      }
      if (Date.now() > deadline)
        throw new SproutError(503, "credentials_locked", "Another sprout command has been updating the login for too long.", "Run the command again; if it persists, remove credentials.json.lock from the sprout config folder.");
      await Bun.sleep(15 + Math.random() * 35);
    }
  }
  try {
    return await f();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      /* taken over as stale: nothing of ours left to remove */
    }
  }
}

/** putProfile stores a profile (under the lock) and answers whether it became the current one. */
export async function putProfile(name: string, p: Profile, current: "always" | "if-none" | "if-none-or-same-master"): Promise<{ madeCurrent: boolean; previous: { name: string; profile: Profile } | null }> {
  return withCredentialsLock(() => {
    const s = loadStore();
    const prevName = s.current && s.profiles[s.current] ? s.current : null;
    const previous = prevName ? { name: prevName, profile: s.profiles[prevName]! } : null;
    s.profiles[name] = p;
    const madeCurrent = current === "always" || !previous || (current === "if-none-or-same-master" && previous.profile.master === p.master);
    if (madeCurrent) s.current = name;
    saveStore(s);
    return { madeCurrent, previous };
  });
}

/** removeProfile forgets a profile (under the lock); answers it, or null when there was none of that name. */
export async function removeProfile(name: string): Promise<Profile | null> {
  return withCredentialsLock(() => {
    const s = loadStore();
    const p = s.profiles[name];
    if (!p) return null;
    delete s.profiles[name];
    if (s.current === name) s.current = null;
    saveStore(s);
    return p;
  });
}
