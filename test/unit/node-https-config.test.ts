import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { certFiles } from "../../src/agent/cert-files";
import { nginxLayout, renderNginxConf } from "../../src/agent/nginx/config";
import { httpsConfFile, renderNodeHttps } from "../../src/agent/nginx/https";
import { NginxProcess } from "../../src/agent/nginx/process";
import { selfSignedCertificate } from "../../src/shared/tls";

const nginx = Bun.which("nginx") ?? "/usr/sbin/nginx";
const dir = mkdtempSync(join(tmpdir(), "sprout-https-"));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a node's HTTPS servers pass nginx -t inside its main config, and each server that passes requests on keeps them alive with the site's host", async () => {
  const l = nginxLayout(dir);
  const proc = new NginxProcess(nginx, l);
  proc.writeConf(renderNginxConf({ dataDir: dir, listen: "127.0.0.1:1", domain: "sprout.test", workerUser: null }));
  const { certPem: cert, keyPem: key } = await selfSignedCertificate("www.a.test", ["www.a.test"]);
  mkdirSync(join(l.prefix, "certs"), { recursive: true });
  const f = certFiles(l, "www.a.test");
  writeFileSync(f.cert, cert);
  writeFileSync(f.key, key);
  const text = renderNodeHttps({
    layout: l,
    httpListen: "127.0.0.1:1",
    httpsListen: "127.0.0.1:2",
    master: "http://127.0.0.1:3",
    masterTrust: null,
    tls: { version: "v", domain: "sprout.test", hsts: ["a"], domains: [{ name: "www.a.test", site: "a", cert_pem: cert, key_pem: key }, { name: "b.test", site: "b", cert_pem: null, key_pem: null, keep_http: true }] },
  });
  mkdirSync(join(l.prefix, "https"), { recursive: true });
  writeFileSync(httpsConfFile(l), text);
  const t = proc.test();
  expect(t.ok, t.output).toBe(true);
  // A location's own proxy_set_header would drop the server's: only proxy_pass in those locations.
  expect(text).not.toMatch(/location \/ \{\n\s+proxy_set_header/);
  expect(text).toContain("proxy_set_header Host a.sprout.test;");
  expect(text).toContain('proxy_set_header Connection "";');
  expect(text).toContain("ssl_protocols TLSv1.2 TLSv1.3;");
  // Certificates named statically (loaded once per reload), never per handshake.
  expect(text).not.toMatch(/ssl_certificate [^;]*\$/);
  // A domain without a certificate has no HTTPS server (one HTTPS server: www.a.test), its HTTP serves the site.
  expect(text).toContain("proxy_set_header Host b.sprout.test;");
  expect(text.match(/listen 127\.0\.0\.1:2 ssl http2;/g)?.length).toBe(1);
});
