// Alerts by email (operations issue): with --alert-email and --smtp-url the master mails each alert
// through the SMTP server, once when it fires and once when it resolves. The SMTP server is a small
// one written here (EHLO, AUTH, MAIL, RCPT, DATA), listening on a loopback port.
import { afterAll, expect, test } from "bun:test";
import { api, killNginxHard, restartAgent, site, useCluster } from "../helpers/cluster";

interface Mail {
  from: string;
  to: string[];
  data: string;
  auth: string | null;
}
const mails: Mail[] = [];

/** smtp is the test's SMTP server: it accepts every message and keeps it in `mails`. */
const smtp = Bun.listen<{ buf: string; mail: Mail; inData: boolean; authStep: "" | "plain" | "user" | "pass"; auth: string | null }>({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(s) {
      s.data = { buf: "", mail: { from: "", to: [], data: "", auth: null }, inData: false, authStep: "", auth: null };
      s.write("220 test-smtp ESMTP\r\n");
    },
    data(s, chunk) {
      const st = s.data;
      st.buf += new TextDecoder().decode(chunk);
      for (;;) {
        if (st.inData) {
          const end = st.buf.indexOf("\r\n.\r\n");
          if (end < 0) return;
          st.mail.data = st.buf.slice(0, end);
          st.buf = st.buf.slice(end + 5);
          st.inData = false;
          mails.push({ ...st.mail, auth: st.auth });
          st.mail = { from: "", to: [], data: "", auth: null };
          s.write("250 queued\r\n");
          continue;
        }
        const nl = st.buf.indexOf("\r\n");
        if (nl < 0) return;
        const line = st.buf.slice(0, nl);
        st.buf = st.buf.slice(nl + 2);
        const cmd = line.toUpperCase();
        if (st.authStep === "plain") {
          st.auth = Buffer.from(line, "base64").toString().split("\0").slice(1).join(":");
          st.authStep = "";
          s.write("235 ok\r\n");
        } else if (st.authStep === "user") {
          st.auth = Buffer.from(line, "base64").toString();
          st.authStep = "pass";
          s.write("334 UGFzc3dvcmQ6\r\n");
        } else if (st.authStep === "pass") {
          st.auth += `:${Buffer.from(line, "base64").toString()}`;
          st.authStep = "";
          s.write("235 ok\r\n");
        } else if (cmd.startsWith("EHLO")) s.write("250-test-smtp\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n");
        else if (cmd.startsWith("HELO")) s.write("250 test-smtp\r\n");
        else if (cmd.startsWith("AUTH PLAIN ")) {
          st.auth = Buffer.from(line.slice(11), "base64").toString().split("\0").slice(1).join(":");
          s.write("235 ok\r\n");
        } else if (cmd === "AUTH PLAIN") {
          st.authStep = "plain";
          s.write("334 \r\n");
        } else if (cmd.startsWith("AUTH LOGIN")) {
          st.authStep = "user";
          s.write("334 VXNlcm5hbWU6\r\n");
        } else if (cmd.startsWith("MAIL FROM:")) {
          st.mail.from = line.slice(10).trim();
          s.write("250 ok\r\n");
        } else if (cmd.startsWith("RCPT TO:")) {
          st.mail.to.push(line.slice(8).trim());
          s.write("250 ok\r\n");
        } else if (cmd === "DATA") {
          st.inData = true;
          s.write("354 go on\r\n");
        } else if (cmd === "QUIT") {
          s.write("221 bye\r\n");
          s.end();
          return;
        } else s.write("250 ok\r\n");
      }
    },
  },
});
afterAll(() => smtp.stop(true));

const cluster = useCluster({
  agents: 2,
  masterArgs: ["--alert-email", "ops@example.com,oncall@example.com", "--alert-email-from", "alerts@sprout.test", "--smtp-url", `smtp://alerts:smtp-secret-pw@127.0.0.1:${smtp.port}`, "--offline-after", "3", "--heal-after", "600"],
});

const until = async (what: string, f: () => boolean, ms = 40_000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; got ${JSON.stringify(mails.map((m) => m.data.match(/^Subject: .*$/m)?.[0]))}`);
    await Bun.sleep(200);
  }
};
const withSubject = (s: string) => mails.filter((m) => m.data.includes(`Subject: ${s}`));

test("a killed node is mailed once when it goes down and once when it is back, to every recipient, through SMTP with its login", async () => {
  const c = cluster();
  const node = c.nodes[1]!;
  await node.p.kill("SIGKILL");
  killNginxHard(node.data);
  await until("the down mail", () => withSubject(`[sprout] FIRING: node down ${node.name}`).length === 1);
  const down = withSubject(`[sprout] FIRING: node down ${node.name}`)[0]!;
  expect(down.from).toBe("<alerts@sprout.test>");
  expect(down.to.sort()).toEqual(["<oncall@example.com>", "<ops@example.com>"]);
  expect(down.auth).toBe("alerts:smtp-secret-pw");
  expect(down.data).toContain(`Node ${node.name} is down`);
  await Bun.sleep(6000); // more checks ran: still one mail
  expect(withSubject(`[sprout] FIRING: node down ${node.name}`).length).toBe(1);
  const back = await restartAgent(c, 1);
  await until("the resolved mail", () => withSubject(`[sprout] resolved: node down ${node.name}`).length === 1);
  // Stopped here, gracefully, so that its nginx goes with it.
  await back.p.kill();
  // The SMTP password is in no log line.
  expect(c.logs()).not.toContain("smtp-secret-pw");
}, 90_000);

test("a failed deploy is mailed once", async () => {
  const c = cluster();
  // The test before left the second node stopped: the deploy goes out once the master counts it
  // offline (--offline-after 3), or it would be placed there and wait for a node that never returns.
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const agents = (await api(c.master, "GET", "/api/agents", undefined, c.admin.token)).body as { name: string; status: string }[];
    if (agents.find((a) => a.name === c.nodes[1]!.name)?.status !== "online") break;
    await Bun.sleep(250);
  }
  // PCRE refuses a capture name over 32 characters: the deploy passes the parser, not nginx.
  const long = "p".repeat(40);
  const r = await c.sprout(["deploy", site({ "index.html": "x", _headers: `/x/:${long}\n  X-A: b\n` }), "--site", "mailed", "--prod"]);
  expect(r.code).toBe(1);
  await until("the deploy mail", () => withSubject("[sprout] FIRING: deploy failed mailed").length === 1);
  await Bun.sleep(3000);
  expect(withSubject("[sprout] FIRING: deploy failed mailed").length).toBe(1);
}, 60_000);

test("--alert-email without an SMTP server is a usage error that says what to add", async () => {
  const c = cluster();
  const { sproutBinary } = await import("../helpers/cluster");
  const r = Bun.spawnSync([sproutBinary(), "master", "--alert-email", "ops@example.com", "--data", `${c.home}/unused`], { stderr: "pipe", env: { PATH: process.env.PATH! } });
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toContain("--alert-email needs --smtp-url");
});
