import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * moduleProblem says why this nginx cannot use the dynamic module at `path` with `directives` (in
 * `http`), or null when it can: the file must exist and load (a module built for another nginx
 * version would stop nginx from starting at all), and the directives must be accepted (a missing
 * database, for instance). One `nginx -t` of a small configuration, at agent start.
 */
export function moduleProblem(nginxBin: string, prefix: string, o: { what: string; directives: string } & ({ path: string } | { paths: string[] })): string | null {
  const paths = "paths" in o ? o.paths : [o.path];
  mkdirSync(prefix, { recursive: true, mode: 0o700 });
  const conf = join(prefix, "module-probe.conf");
  writeFileSync(conf, `${paths.map((p) => `load_module ${p};\n`).join("")}error_log stderr;\nevents {}\nhttp { ${o.directives} }\n`, { mode: 0o600 });
  try {
    const r = Bun.spawnSync([nginxBin, "-t", "-q", "-e", "stderr", "-p", prefix, "-c", conf], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode === 0) return null;
    const why = r.stderr.toString().split("\n").find((l) => l.includes("[emerg]")) ?? r.stderr.toString().trim().split("\n")[0] ?? "";
    return `nginx cannot load ${o.what} at ${paths.join(", ")} (${why.replace(/^.*\[emerg\]\s*/, "").slice(0, 300)})`;
  } finally {
    rmSync(conf, { force: true });
  }
}
