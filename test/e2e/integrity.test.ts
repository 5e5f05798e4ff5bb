// Integrity (cluster issue, item 5): a stored blob whose bytes no longer match its digest is never
// served by a new deployment. The node checks blobs before a new deployment reuses them; a corrupt
// one is quarantined, then uploaded again (the node the CLI uploads to) or fetched again from a peer
// (the replicas).
import { describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { site, useCluster } from "../helpers/cluster";

// --reverify-after 0: every reuse checks the bytes (the default re-checks blobs not checked for a day).
const cluster = useCluster({ agents: 2, agentArgs: ["--reverify-after", "0"] });

/** flip changes one byte of a stored blob in place, keeping its times (as silent corruption would). */
function flip(path: string) {
  const st = statSync(path);
  const bytes = readFileSync(path);
  bytes[7] = bytes[7]! ^ 0xff;
  writeFileSync(path, bytes);
  utimesSync(path, st.atime, st.mtime);
}

describe("blob integrity", () => {
  test("a blob corrupted on every node is never served by a new deployment: re-uploaded to one node, re-fetched by the other", async () => {
    const c = cluster();
    const data = randomBytes(64 * 1024);
    const sha = createHash("sha256").update(data).digest("hex");
    expect((await c.sprout(["deploy", site({ "index.html": "v1", "data.bin": data }), "--site", "intact", "--prod"])).code).toBe(0);
    for (const n of c.nodes) {
      const blob = join(n.data, "blobs", sha.slice(0, 2), sha);
      expect(existsSync(blob)).toBe(true);
      flip(blob);
    }
    const r = await c.sprout(["deploy", site({ "index.html": "v2", "data.bin": data }), "--site", "intact", "--prod"]);
    expect(r.code).toBe(0);
    for (const n of c.nodes) {
      expect(await (await c.get(`intact.${c.domain}`, "/", n)).text()).toBe("v2");
      const served = Buffer.from(await (await c.get(`intact.${c.domain}`, "/data.bin", n, { headers: { "accept-encoding": "identity" } })).arrayBuffer());
      expect(createHash("sha256").update(served).digest("hex")).toBe(sha);
      // The corrupt copy is kept aside, out of the store.
      expect(readdirSync(join(n.data, "quarantine")).some((f) => f.startsWith(sha))).toBe(true);
    }
  });
});
