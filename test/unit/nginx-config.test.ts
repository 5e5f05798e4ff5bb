import { afterAll, expect, test } from "bun:test";
import { existsSync, rmSync, mkdtempSync, chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nginxLayout, renderNginxConf, renderShardConf, shardLayout } from "../../src/agent/nginx/config";
import { NginxProcess } from "../../src/agent/nginx/process";
import { installLua, LUA_MODULES, validateRules } from "../../src/agent/nginx/lua-engine";

const nginx = Bun.which("nginx") ?? "/usr/sbin/nginx";
const dir = mkdtempSync(join(tmpdir(), "sprout-nginx-"));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the generated nginx.conf passes nginx -t, keeps open_file_cache off and escapes the domain", () => {
  const conf = renderNginxConf({ dataDir: dir, listen: "127.0.0.1:1", domain: "sites.example.com", workerUser: null });
  expect(conf).toContain("open_file_cache off;");
  expect(conf).toContain("\\.sites\\.example\\.com$");
  expect(conf).toContain("default_server");
  const proc = new NginxProcess(nginx, nginxLayout(dir));
  expect(proc.writeConf(conf)).toBe(true);
  expect(proc.writeConf(conf)).toBe(false);
  expect(proc.test().ok).toBe(true);
});

test("a site include that nginx rejects is not installed in its shard and the error says why", () => {
  const proc = new NginxProcess(nginx, shardLayout(dir, 0));
  expect(proc.writeConf(renderShardConf({ dataDir: dir, domain: "example.com", workerUser: null, shard: 0 }))).toBe(true);
  const sites = join(dir, "nginx", "shards", "0", "sites");
  expect(() => proc.writeSiteInclude("broken", `server { listen unix:${shardLayout(dir, 0).socket}; bogus_directive on; }`)).toThrow(/nginx rejected.*bogus_directive/);
  expect(existsSync(join(sites, "broken.conf"))).toBe(false);
  expect(proc.writeSiteInclude("fine", `server { listen unix:${shardLayout(dir, 0).socket}; server_name fine.example.com; }`)).toBe(true);
  expect(existsSync(join(sites, "fine.conf"))).toBe(true);
  expect(proc.test().ok).toBe(true);
  expect(proc.reloads).toBe(0);
});

test("compiled rules whose regex PCRE refuses are rejected by the engine's own nginx, naming the rule, not the file", async () => {
  const prefix = join(dir, "lua-check");
  mkdirSync(prefix, { recursive: true });
  const luaDir = installLua(prefix);
  const good = join(dir, "good.lua");
  const bad = join(dir, "bad.lua");
  writeFileSync(good, 'return { rules = { { [[^/a/?#]], [[301|/b]], [[/a]] } } }\n');
  writeFileSync(bad, 'return { rules = { { [[^/a/?#]], [[301|/b]], [[/a]] }, { [[^/c(]], [[301|/d]], [[/c]] } } }\n');
  await validateRules(nginx, prefix, luaDir, LUA_MODULES, good);
  const err = await validateRules(nginx, prefix, luaDir, LUA_MODULES, bad).then(() => null, (e: Error) => e);
  expect(err?.message).toMatch(/nginx rejected the generated configuration: rule 2: /);
  expect(err?.message).not.toContain(dir);
});
