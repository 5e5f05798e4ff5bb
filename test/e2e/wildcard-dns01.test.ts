// The platform's wildcard certificate by ACME DNS-01 (issue 10, "Certificates"): the master runs the
// operator's hook to publish the TXT record (here: into a file the test's DNS server answers from),
// pebble validates it, and gateways serve every site over HTTPS with the certificate.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as packet from "dns-packet";
import { type Cluster, type Pebble, addGateway, cleanup, cluster, freePort, site, startPebble, tempDir } from "../helpers/cluster";

let c: Cluster;
let pebble: Pebble;
const httpsPort = freePort();
const dir = tempDir();
const records = join(dir, "txt-records");
const calls = join(dir, "hook-calls");
const dns = createSocket("udp4");

beforeAll(async () => {
  // A DNS server answering TXT queries from the records file, which the hook edits.
  dns.on("message", (msg, rinfo) => {
    const q = packet.decode(msg);
    const question = q.questions?.[0];
    const lines = existsSync(records) ? readFileSync(records, "utf8").split("\n").filter(Boolean) : [];
    const answers =
      question?.type === "TXT"
        ? lines.filter((l) => l.split(" ")[0] === question.name.toLowerCase()).map((l) => ({ type: "TXT" as const, name: question.name, ttl: 1, class: "IN" as const, data: l.split(" ")[1]! }))
        : [];
    dns.send(packet.encode({ id: q.id, type: "response", flags: packet.AUTHORITATIVE_ANSWER, questions: q.questions, answers }), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => dns.bind(0, "127.0.0.1", r));
  const hook = join(dir, "dns-hook.sh");
  writeFileSync(
    hook,
    `#!/bin/sh
echo "$1 $2" >> ${calls}
case "$1" in
  add) echo "$2 $3" >> ${records} ;;
  remove) grep -v " $3\\$" ${records} > ${records}.tmp; mv ${records}.tmp ${records} ;;
esac
`,
    { mode: 0o755 },
  );
  pebble = await startPebble(dns.address().port, freePort());
  c = await cluster({ agents: 1, masterArgs: ["--acme-directory", pebble.directory, "--acme-email", "ops@example.test", "--acme-ca-file", pebble.caFile, "--acme-dns-hook", hook] });
  await addGateway(c, "gw1", ["--https-listen", `127.0.0.1:${httpsPort}`]);
  expect((await c.sprout(["deploy", site({ "index.html": "dns-01 site" }), "--site", "dnsone", "--prod"])).code).toBe(0);
}, 60_000);
afterAll(async () => {
  dns.close();
  await c?.stop();
  await cleanup();
});

test("with --acme-dns-hook the master gets *.<domain> by DNS-01 and gateways serve every site over HTTPS with it", async () => {
  const root = await pebble.rootFile();
  const curl = () => Bun.spawnSync(["curl", "-sS", "--cacert", root, "--resolve", `dnsone.sprout.test:${httpsPort}:127.0.0.1`, `https://dnsone.sprout.test:${httpsPort}/`], { stdout: "pipe", stderr: "pipe" });
  const end = Date.now() + 60_000;
  let r = curl();
  while (r.stdout.toString() !== "dns-01 site" && Date.now() < end) {
    await Bun.sleep(500);
    r = curl();
  }
  if (r.stdout.toString() !== "dns-01 site") throw new Error(`not served over HTTPS: ${r.stderr.toString()}\n${c.logs()}`);
  // The hook published the TXT record, then removed it once validated.
  expect(readFileSync(calls, "utf8")).toBe("add _acme-challenge.sprout.test\nremove _acme-challenge.sprout.test\n");
  expect(readFileSync(records, "utf8").trim()).toBe("");
}, 90_000);
