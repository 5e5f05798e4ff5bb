import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * WorkerIdentity is the unprivileged user nginx's workers switch to when the agent (and so nginx's
 * master) runs as root, and that user's group, which may read the htpasswd files.
 */
export interface WorkerIdentity {
  user: string;
  group: string;
  uid: number;
  gid: number;
}

/**
 * workerIdentity resolves `--nginx-user USER[:GROUP]` (default `nobody` and its primary group) when
 * running as root; answers null otherwise: an nginx started by an unprivileged agent cannot switch
 * users, so its workers run as the agent's user.
 */
export function workerIdentity(spec: string | undefined): WorkerIdentity | null {
  if (process.getuid?.() !== 0) return null;
  const [user, groupGiven] = (spec ?? "nobody").split(":") as [string, string?];
  const id = (args: string[]) => Bun.spawnSync(["id", ...args], { stdout: "pipe", stderr: "pipe" });
  const group = groupGiven ?? id(["-gn", user]).stdout.toString().trim();
  const gid = Number(Bun.spawnSync(["getent", "group", group], { stdout: "pipe" }).stdout.toString().split(":")[2]);
  if (!group || !Number.isInteger(gid)) throw new Error(`--nginx-user ${spec ?? "nobody"}: no such user or group on this machine`);
  const uid = Number(id(["-u", user]).stdout.toString().trim());
  if (uid === 0) throw new Error("--nginx-user must not be root: nginx's workers serve tenants' files");
  return { user, group, uid, gid };
}

/** makeDataFolder makes the data folder and the folders on the way to it, which let nginx's workers through (0711) whatever the umask. */
export function makeDataFolder(dataDir: string) {
  const missing: string[] = [];
  for (let d = dataDir; !existsSync(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    mkdirSync(d, { mode: 0o711 });
    chmodSync(d, 0o711);
  }
}

/**
 * secureLayout sets the modes of the agent's data folder so that nginx's workers can reach only
 * what they serve (DESIGN: tenant isolation). Folders on the way to served files are 0711 (pass
 * through, no listing); the blob store, temporary files, upload spools, rules sources and site
 * records are the agent's alone; nginx's configuration is read by its (root) master only; the
 * htpasswd files are readable by the workers' group, nginx's unix sockets reachable by it alone.
 * Idempotent; run at every start so a data folder made by an older version is brought in line.
 */
export function secureLayout(dataDir: string, worker: WorkerIdentity | null) {
  makeDataFolder(dataDir);
  if (worker) assertReachable(dirname(dataDir), worker);
  const mode = (p: string, m: number) => existsSync(p) && chmodSync(p, m);
  const dir = (p: string, m: number) => {
    mkdirSync(p, { recursive: true, mode: m });
    chmodSync(p, m);
  };
  dir(dataDir, 0o711);
  for (const d of ["blobs", "tmp", "uploads", "siblings"]) dir(join(dataDir, d), 0o700);
  const sites = join(dataDir, "sites");
  dir(sites, 0o711);
  for (const site of readdirSync(sites)) {
    mode(join(sites, site), 0o711);
    mode(join(sites, site, "deploys"), 0o711);
    mode(join(sites, site, "trees"), 0o711);
    mode(join(sites, site, "rules"), 0o700);
    mode(join(sites, site, "site.json"), 0o600);
  }
  const nginx = join(dataDir, "nginx");
  dir(nginx, 0o711);
  dir(join(nginx, "sites"), 0o700);
  mode(join(nginx, "nginx.conf"), 0o600);
  // nginx's unix sockets (0666 whatever the umask): only nginx's workers pass the folder.
  const sock = join(nginx, "sock");
  dir(sock, worker ? 0o710 : 0o700);
  if (worker) chownSync(sock, 0, worker.gid);
  // Where older versions had them, left by an nginx killed hard (nginx removes its sockets on exit).
  rmSync(join(nginx, "hop.sock"), { force: true });
  const shards = join(nginx, "shards");
  if (existsSync(shards)) for (const n of readdirSync(shards)) rmSync(join(shards, n, "http.sock"), { force: true });
  const auth = join(nginx, "auth");
  dir(auth, 0o750);
  if (worker) {
    chownSync(auth, 0, worker.gid);
    for (const f of readdirSync(auth)) {
      chownSync(join(auth, f), 0, worker.gid);
      chmodSync(join(auth, f), 0o640);
    }
  }
}

/**
 * blockedFolder answers the first folder at or above `dir` that the workers' user cannot pass
 * through (say /root, 0700), or null when they can reach `dir`.
 */
export function blockedFolder(dir: string, w: WorkerIdentity): string | null {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(d)) {
      const st = statSync(d);
      const bit = st.uid === w.uid ? 0o100 : st.gid === w.gid ? 0o010 : 0o001;
      if (!(st.mode & bit)) return d;
    }
    if (d === dirname(d)) return null;
  }
}

/** assertReachable fails with a clear message when nginx would answer 403 for every site. */
function assertReachable(dir: string, w: WorkerIdentity) {
  const d = blockedFolder(dir, w);
  if (d)
    throw new Error(`nginx's workers run as ${w.user}, who cannot pass through ${d}. Choose a data folder they can reach (e.g. --data /var/lib/sprout), or allow it: chmod o+x ${d}`);
}
