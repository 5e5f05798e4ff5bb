// One tenant against the master's ACME account and its periodic DNS checks. The CA limits orders
// per ACME account (Let's Encrypt: 300 new orders per 3 hours), and every certificate of every site
// is ordered by the master's one account. A tenant whose own zone has a wildcard CNAME to its site
// verifies any number of names, each a new order, and removing and adding a name again made a new
// order each time: enough to leave every other site without new certificates or renewals, and a
// pile of pending names that every periodic check looks up. Each account now claims at most
// --quota-domains names and costs at most --quota-certificates-per-hour orders; more wait.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Cluster, addGateway, api, cleanup, cluster, freePort, site, startDns, startPebble } from "../helpers/cluster";

let c: Cluster;
let env: Record<string, string>;
let token: string;
const httpPort = freePort();

beforeAll(async () => {
  const dns = await startDns([
    "--local=/att.test/",
    "--local=/sprout.test/",
    "--host-record=atts.sprout.test,127.0.0.1",
    ...["a", "b", "c", "d"].map((x) => `--cname=${x}.att.test,atts.sprout.test`),
  ]);
  const pebble = await startPebble(dns.port, httpPort);
  c = await cluster({
    agents: 1,
    masterArgs: [
      "--dns-server", `127.0.0.1:${dns.port}`, "--domain-check-interval", "2",
      "--acme-directory", pebble.directory, "--acme-email", "ops@example.test", "--acme-ca-file", pebble.caFile,
      "--quota-domains", "3", "--quota-certificates-per-hour", "2",
    ],
  });
  await addGateway(c, "gw1", ["--http-listen", `127.0.0.1:${httpPort}`]);
  token = await c.user("tenant@example.com");
  env = { SPROUT_TOKEN: token };
  expect((await c.sprout(["deploy", site({ "index.html": "a tenant" }), "--site", "atts", "--prod"], env)).code).toBe(0);
}, 60_000);
afterAll(async () => {
  await c?.stop();
  await cleanup();
});

type Domain = { name: string; status: string; certificate: { status: string; last_error: string | null; next_attempt_at: string | null } | null };
const list = async (): Promise<Domain[]> => (await api(c.master, "GET", "/api/domains", undefined, token)).body;

test("an account's certificate orders per hour and its domains are bounded; a removed and re-added name waits its turn too", async () => {
  for (const x of ["a", "b", "c"]) expect(JSON.parse((await c.sprout(["domains", "add", `${x}.att.test`, "--site", "atts", "--json"], env)).stdout).status).toBe("active");
  const end = Date.now() + 45_000;
  while ((await list()).filter((d) => d.certificate?.status === "active").length < 2 && Date.now() < end) await Bun.sleep(300);
  // The renewal job (every 10 s) runs at least once more: the third still waits for its turn.
  await Bun.sleep(11_000);
  const ds = await list();
  expect(ds.filter((d) => d.certificate?.status === "active").length).toBe(2);
  const waiting = ds.find((d) => d.certificate?.status !== "active")!;
  expect(waiting.certificate?.last_error).toContain("--quota-certificates-per-hour");
  expect(Date.parse(waiting.certificate!.next_attempt_at!)).toBeGreaterThan(Date.now() + 50 * 60_000);

  // A fourth name is refused.
  const fourth = await c.sprout(["domains", "add", "d.att.test", "--site", "atts"], env);
  expect(fourth.code).toBe(1);
  expect(fourth.stderr).toContain("domains: 3");

  // Removing a name and adding it again is a new claim, not a new order this hour.
  const issued = ds.find((d) => d.certificate?.status === "active")!.name;
  expect((await c.sprout(["domains", "remove", issued], env)).code).toBe(0);
  expect(JSON.parse((await c.sprout(["domains", "add", issued, "--site", "atts", "--json"], env)).stdout).status).toBe("active");
  await Bun.sleep(3000);
  const again = (await list()).find((d) => d.name === issued)!;
  expect(again.certificate?.status).not.toBe("active");
  expect(again.certificate?.last_error).toContain("--quota-certificates-per-hour");
}, 90_000);
