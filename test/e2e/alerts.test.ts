// Alerts (operations issue): a killed node and a failed deploy reach the operator's webhook, each
// once; the node's alert resolves once when it returns.
import { afterAll, expect, test } from "bun:test";
import { killNginx, restartAgent, site, useCluster } from "../helpers/cluster";

const received: { kind: string; subject: string; status: string; text: string }[] = [];
const hook = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    received.push(await req.json());
    return new Response("ok");
  },
});
afterAll(() => hook.stop(true));

const cluster = useCluster({ agents: 2, masterArgs: ["--alert-webhook", `http://127.0.0.1:${hook.port}/hook`, "--offline-after", "3", "--heal-after", "600"] });

const until = async (what: string, f: () => boolean, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; got ${JSON.stringify(received)}`);
    await Bun.sleep(200);
  }
};
const count = (kind: string, subject: string, status: string) => received.filter((a) => a.kind === kind && a.subject === subject && a.status === status).length;

test("a node killed fires node_down once, and its return resolves it once", async () => {
  const c = cluster();
  const node = c.nodes[1]!;
  await node.p.kill("SIGKILL");
  killNginx(node.data);
  await until("node_down firing", () => count("node_down", node.name, "firing") === 1);
  await Bun.sleep(6000); // two more checks: still once
  expect(count("node_down", node.name, "firing")).toBe(1);
  expect(received.find((a) => a.kind === "node_down")!.text).toContain(node.name);
  await restartAgent(c, 1);
  await until("node_down resolved", () => count("node_down", node.name, "resolved") === 1);
  await Bun.sleep(6000);
  expect(count("node_down", node.name, "resolved")).toBe(1);
  expect(count("node_down", node.name, "firing")).toBe(1);
});

test("a failed deploy fires deploy_failed once", async () => {
  const c = cluster();
  // PCRE refuses a capture name over 32 characters: the deploy passes the parser, not nginx.
  const long = "p".repeat(40);
  const r = await c.sprout(["deploy", site({ "index.html": "x", _headers: `/x/:${long}\n  X-A: b\n` }), "--site", "alarm", "--prod"]);
  expect(r.code).toBe(1);
  await until("deploy_failed", () => count("deploy_failed", "alarm", "firing") === 1);
  await Bun.sleep(3000);
  expect(count("deploy_failed", "alarm", "firing")).toBe(1);
});
