// The platform's wildcard certificate (issue 10, "Certificates"): from the operator's files, gateways
// serve every site's own host and its previews over HTTPS; a renewed file reaches them without a
// restart; files that do not fit are refused at start.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Cluster, type Gateway, addGateway, cleanup, cluster, freePort, site, tempDir } from "../helpers/cluster";
import { selfSignedCertificate } from "../../src/shared/tls";

let c: Cluster;
let gw: Gateway;
const httpsPort = freePort();
const dir = tempDir();
const certFile = join(dir, "wildcard.crt");
const keyFile = join(dir, "wildcard.key");
let deploymentId = "";

/** served asks the gateway over HTTPS for `host`, trusting only `caFile`: answers the body, or curl's error. */
function served(host: string, caFile: string): string {
  const r = Bun.spawnSync(["curl", "-sS", "--cacert", caFile, "--resolve", `${host}:${httpsPort}:127.0.0.1`, `https://${host}:${httpsPort}/`], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString() : `curl: ${r.stderr.toString().trim()}`;
}

async function until(f: () => boolean, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return;
    await Bun.sleep(250);
  }
  throw new Error(`not within ${ms} ms:\n${c.logs()}`);
}

beforeAll(async () => {
  const w = await selfSignedCertificate("sprout.test wildcard", ["*.sprout.test"]);
  writeFileSync(certFile, w.certPem);
  writeFileSync(keyFile, w.keyPem, { mode: 0o600 });
  c = await cluster({ agents: 1, masterArgs: ["--wildcard-cert", certFile, "--wildcard-key", keyFile] });
  gw = await addGateway(c, "gw1", ["--https-listen", `127.0.0.1:${httpsPort}`]);
  const r = await c.sprout(["deploy", site({ "index.html": "wild site" }), "--site", "wild", "--prod", "--json"]);
  expect(r.code).toBe(0);
  deploymentId = JSON.parse(r.stdout).deployment_id;
}, 60_000);
afterAll(async () => {
  await c?.stop();
  await cleanup();
});

test("with the operator's wildcard certificate, a gateway serves sites and previews over HTTPS", async () => {
  const ca = join(dir, "ca-1.pem");
  writeFileSync(ca, await Bun.file(certFile).text());
  // The site's first route reaches the gateway as the deploy ends: until its nginx reload is over,
  // an old worker (which has no route for the site yet) can still take a connection and answer 404.
  // (Seen in CI: answered once, then 404 on the next request; see the https test.)
  await until(() => served("wild.sprout.test", ca) === "wild site" && served(`${deploymentId}--wild.sprout.test`, ca) === "wild site");
  // A name outside the wildcard is refused at the handshake.
  const other = Bun.spawnSync(["curl", "-sS", "-k", "--resolve", `example.org:${httpsPort}:127.0.0.1`, `https://example.org:${httpsPort}/`], { stdout: "pipe", stderr: "pipe" });
  expect(other.exitCode).not.toBe(0);
  // Plain HTTP keeps serving the platform's hosts.
  expect(await (await fetch(gw.httpUrl, { headers: { host: "wild.sprout.test" } })).text()).toBe("wild site");
});

test("a renewed wildcard file reaches the gateways without a restart", async () => {
  const next = await selfSignedCertificate("sprout.test wildcard, renewed", ["*.sprout.test"]);
  writeFileSync(keyFile, next.keyPem, { mode: 0o600 });
  writeFileSync(certFile, next.certPem);
  const ca = join(dir, "ca-2.pem");
  writeFileSync(ca, next.certPem);
  await until(() => served("wild.sprout.test", ca) === "wild site");
  // The old certificate is no longer the one served.
  expect(served("wild.sprout.test", join(dir, "ca-1.pem"))).toStartWith("curl:");
});

test("a wildcard certificate for another domain, or with another key, is refused at start", async () => {
  const other = await selfSignedCertificate("elsewhere", ["*.example.org"]);
  const d = tempDir();
  writeFileSync(join(d, "c.pem"), other.certPem);
  writeFileSync(join(d, "k.pem"), other.keyPem);
  const mine = await selfSignedCertificate("mine", ["*.sprout.test"]);
  writeFileSync(join(d, "c2.pem"), mine.certPem);
  const run = async (cert: string, key: string) => {
    const r = await c.sprout(["master", "--listen", "127.0.0.1:0", "--data", join(d, "m"), "--domain", "sprout.test", "--wildcard-cert", cert, "--wildcard-key", key]);
    return r;
  };
  const wrongName = await run(join(d, "c.pem"), join(d, "k.pem"));
  expect(wrongName.code).toBe(2);
  expect(wrongName.stderr).toContain("does not cover *.sprout.test");
  const wrongKey = await run(join(d, "c2.pem"), join(d, "k.pem"));
  expect(wrongKey.code).toBe(2);
  expect(wrongKey.stderr).toContain("not the key of --wildcard-cert");
});
