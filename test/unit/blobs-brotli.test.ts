// The blob store's brotli forms: made once per blob in the background, linked into a deployment's
// tree once ready, and removed with the blob when nothing uses it any more.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync } from "node:zlib";
import { BlobStore } from "../../src/agent/blobs";
import { Deployments } from "../../src/agent/deployments";

const dir = mkdtempSync(join(tmpdir(), "sprout-brotli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

test("a compressible file gets a .br form that a staged deployment links once made, and collection removes it with the blob", async () => {
  const blobs = new BlobStore(dir);
  blobs.brotli = true;
  const deployments = new Deployments(dir, blobs, 0, new Uint8Array(8));
  const js = "export const answer = () => 42;\n".repeat(200);
  const tiny = "x";
  for (const body of [js, tiny]) {
    const tmp = blobs.tmpPath();
    writeFileSync(tmp, body);
    blobs.adopt(tmp, sha(body));
  }
  const r = await deployments.stage("site", "d1", [
    { path: "app.js", sha256: sha(js), size: js.length },
    { path: "tiny.js", sha256: sha(tiny), size: tiny.length },
  ]);
  expect(r.gz).toBe(1);
  const tree = join(dir, "sites", "site", "deploys", "d1");
  const end = Date.now() + 30_000;
  while (!existsSync(join(tree, "app.js.br")) && Date.now() < end) await Bun.sleep(50);
  expect(brotliDecompressSync(readFileSync(join(tree, "app.js.br"))).toString()).toBe(js);
  expect(readdirSync(tree).sort()).toEqual(["app.js", "app.js.br", "app.js.gz", "tiny.js"]);
  // Shared by the store: a second deployment of the same file links the one made.
  const again = await deployments.stage("site", "d2", [{ path: "app.js", sha256: sha(js), size: js.length }]);
  expect(again.br).toBe(1);
  deployments.discard("site", "d1");
  deployments.discard("site", "d2");
  // Folder trees outlive a discarded deployment until collection, which then frees their blobs.
  deployments.collect();
  expect(readdirSync(join(dir, "blobs")).flatMap((d) => readdirSync(join(dir, "blobs", d)))).toEqual([]);
});

test("with brotli off (no nginx module) no .br form is made", async () => {
  const d2 = join(dir, "off");
  const blobs = new BlobStore(d2);
  const js = "export const off = true;\n".repeat(200);
  const tmp = blobs.tmpPath();
  writeFileSync(tmp, js);
  blobs.adopt(tmp, sha(js));
  await blobs.precompress(sha(js));
  expect(await blobs.brotliLater(sha(js))).toBeNull();
  expect(existsSync(`${blobs.path(sha(js))}.br`)).toBe(false);
  expect(existsSync(`${blobs.path(sha(js))}.gz`)).toBe(true);
});

test("the brotli worker answers each blob's exact brotli form, for a buffer of its own and for a view on a bigger one", async () => {
  const { BrotliWorker } = await import("../../src/agent/brotli-worker");
  const w = new BrotliWorker();
  const text = Buffer.from("body { color: red }\n".repeat(5000));
  const own = new Uint8Array(text);
  const big = new Uint8Array(text.length + 100);
  big.set(text, 50);
  const view = big.subarray(50, 50 + text.length);
  const [a, b] = await Promise.all([w.compress(own, 5), w.compress(view, 5)]);
  expect(brotliDecompressSync(a).equals(text)).toBe(true);
  expect(brotliDecompressSync(b).equals(text)).toBe(true);
  // The view's buffer stays the caller's (a copy went to the worker).
  expect(big.byteLength).toBe(text.length + 100);
  expect(Buffer.from(big.subarray(50, 50 + text.length)).equals(text)).toBe(true);
});
