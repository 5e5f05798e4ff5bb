import { chmodSync, mkdirSync, writeFileSync, renameSync, existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import SPROUT_LUA from "./lua/sprout.lua" with { type: "text" };
import { moduleProblem } from "./modules";
import { SproutError } from "../../shared/errors";

/** LUA_MODULES: Debian's lua-nginx-module and the development kit it needs, loaded in this order. */
export const LUA_MODULES = ["/usr/lib/nginx/modules/ndk_http_module.so", "/usr/lib/nginx/modules/ngx_http_lua_module.so"];

/**
 * luaProblem says why this nginx cannot run the Lua rules engine, or null when it can: both modules
 * must exist and load (Debian/Ubuntu: libnginx-mod-http-lua), with resty.core found.
 */
export function luaProblem(nginxBin: string, prefix: string, modules = LUA_MODULES): string | null {
  const missing = modules.find((m) => !existsSync(m));
  if (missing) return `nginx's Lua module is not at ${missing}`;
  return moduleProblem(nginxBin, prefix, { what: "the Lua module", paths: modules, directives: `init_by_lua_block { require("ffi") }` });
}

/** installLua writes the engine (lua/sprout.lua) where nginx's workers can read it; answers its folder. */
export function installLua(nginxPrefix: string): string {
  const dir = join(nginxPrefix, "lua");
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "sprout.lua.tmp"), SPROUT_LUA, { mode: 0o644 });
  chmodSync(join(dir, "sprout.lua.tmp"), 0o644);
  renameSync(join(dir, "sprout.lua.tmp"), join(dir, "sprout.lua"));
  return dir;
}

/**
 * validateRules compiles every regex of a rules file with the engine's own PCRE, in an nginx started
 * for that alone (the Lua module skips its init code under `nginx -t`): it reads the file at init
 * and exits at once, serving nothing. Throws the reason PCRE gives when one is refused: the
 * deployment fails, as it would with an include nginx rejects, instead of failing its visitors later.
 * Asynchronous: the agent serves its API and other deploys meanwhile (50-100 ms per check).
 */
export async function validateRules(nginxBin: string, nginxPrefix: string, luaDir: string, modules: string[], file: string): Promise<void> {
  const base = join(nginxPrefix, `rules-check-${process.pid}-${++checks}`);
  const q = (s: string) => JSON.stringify(s);
  writeFileSync(
    `${base}.conf`,
    `${modules.map((m) => `load_module ${m};\n`).join("")}error_log stderr;\npid ${base}.pid;\nevents {}\nhttp {\n  lua_package_path ${q(`${luaDir}/?.lua;;`)};\n  init_by_lua_block { local why = require("sprout").check(${q(file)}); if why then io.stderr:write("RULES: " .. why .. "\\n"); os.exit(3) end; os.exit(0) }\n}\n`,
    { mode: 0o600 },
  );
  try {
    const p = Bun.spawn([nginxBin, "-e", "stderr", "-p", nginxPrefix, "-c", `${base}.conf`, "-g", "daemon off; master_process off;"], { stdout: "ignore", stderr: "pipe" });
    const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
    const [code, out] = await Promise.all([p.exited, new Response(p.stderr).text()]).finally(() => clearTimeout(timer));
    if (code === 0) return;
    const why = /RULES: ([^\n]*)/.exec(out)?.[1] ?? out.split("\n").find((l) => l.includes("[emerg]"))?.replace(/^.*\[emerg\]\s*/, "") ?? `exit code ${code}`;
    throw new SproutError(422, "nginx_rejected", `nginx rejected the generated configuration: ${why.replaceAll(file, "rules").slice(0, 300)}`);
  } finally {
    rmSync(`${base}.conf`, { force: true });
    rmSync(`${base}.pid`, { force: true });
  }
}

let checks = 0;

/**
 * clearRulesChecks removes the files of rules checks an earlier run of the agent did not finish (it
 * was killed while one ran): their names hold that run's pid, so nothing would ever reuse them. At
 * agent start, before any check of this run.
 */
export function clearRulesChecks(nginxPrefix: string) {
  if (!existsSync(nginxPrefix)) return;
  for (const f of readdirSync(nginxPrefix)) if (/^rules-check-\d+-\d+\.(?:conf|pid)$/.test(f)) rmSync(join(nginxPrefix, f), { force: true });
}
