import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, rmSync, mkdtempSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nginxLayout, renderNginxConf } from "../../src/agent/nginx/config";
import { NginxProcess } from "../../src/agent/nginx/process";

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

test("a site include that nginx rejects is not installed and the error says why", () => {
  const proc = new NginxProcess(nginx, nginxLayout(dir));
  proc.writeConf(renderNginxConf({ dataDir: dir, listen: "127.0.0.1:1", domain: "example.com", workerUser: null }));
  mkdirSync(join(dir, "nginx", "sites"), { recursive: true });
  expect(() => proc.writeSiteInclude("broken", "server { listen 127.0.0.1:1; bogus_directive on; }")).toThrow(/nginx rejected.*bogus_directive/);
  expect(existsSync(join(dir, "nginx", "sites", "broken.conf"))).toBe(false);
  expect(proc.test().ok).toBe(true);
  expect(proc.reloads).toBe(0);
});
