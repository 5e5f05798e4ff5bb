// The blob store's compressed forms: made once per blob in the background after a deployment is
// staged (Siblings), linked into its folder trees once ready, made again after a restart when the
// agent stopped first, and removed with the blob when nothing uses it any more.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { BlobStore } from "../../src/agent/blobs";
import { Deployments } from "../../src/agent/deployments";

const dir = mkdtempSync(join(tmpdir(), "sprout-brotli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (s: string) => new Bun.CryptoHasher("sha256").update(s).digest("hex");

/** store adopts each body into the blob store, as an upload that verified it would. */
function store(blobs: BlobStore, ...bodies: string[]) {
  for (const body of bodies) {
    const tmp = blobs.tmpPath();
    writeFileSync(tmp, body);
    blobs.adopt(tmp, sha(body));
  }
}

test("a compressible file's .gz and .br are made after staging and linked into its tree, shared by later deployments, and collection removes them with the blob", async () => {
  const blobs = new BlobStore(dir);
  blobs.brotli = true;
  const deployments = new Deployments(dir, blobs, 0, new Uint8Array(8));
  const lines: string[] = [];
  deployments.siblings.report = (r) => lines.push(`${r.deployment_id}: ${r.message}`);
  const js = "export const answer = () => 42;\n".repeat(200);
  const tiny = "x";
  store(blobs, js, tiny);
  const r = await deployments.stage("site", "d1", [
    { path: "app.js", sha256: sha(js), size: js.length },
    { path: "tiny.js", sha256: sha(tiny), size: tiny.length },
  ]);
  // Staging made no form: it only noted which to make.
  expect(r.gz).toBe(0);
  expect(r.later).toBe(1);
  const tree = join(dir, "sites", "site", "deploys", "d1");
  await deployments.siblings.idle();
  expect(brotliDecompressSync(readFileSync(join(tree, "app.js.br"))).toString()).toBe(js);
  expect(gunzipSync(readFileSync(join(tree, "app.js.gz"))).toString()).toBe(js);
  expect(readdirSync(tree).sort()).toEqual(["app.js", "app.js.br", "app.js.gz", "tiny.js"]);
  expect(lines.join("\n")).toMatch(/d1: gzip forms of 1 file ready \([\d.]+ s after staging\)\./);
  expect(lines.join("\n")).toMatch(/d1: brotli forms of 1 file ready/);
  // Nothing is left pending on disk.
  expect(readdirSync(join(dir, "siblings"))).toEqual([]);
  // Shared by the store: a second deployment of the same file links the forms made, at once.
  const again = await deployments.stage("site", "d2", [{ path: "app.js", sha256: sha(js), size: js.length }]);
  expect(again.br).toBe(1);
  expect(again.gz).toBe(1);
  expect(again.later).toBe(0);
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
  store(blobs, js);
  expect(await blobs.gzLater(sha(js))).toBe(`${blobs.path(sha(js))}.gz`);
  expect(await blobs.brotliLater(sha(js))).toBeNull();
  expect(existsSync(`${blobs.path(sha(js))}.br`)).toBe(false);
  expect(existsSync(`${blobs.path(sha(js))}.gz`)).toBe(true);
});

test("the compression worker answers each blob's exact brotli form, for a buffer of its own and for a view on a bigger one", async () => {
  const { CompressWorker } = await import("../../src/agent/compress-worker");
  const w = new CompressWorker();
  const text = Buffer.from("body { color: red }\n".repeat(5000));
  const own = new Uint8Array(text);
  const big = new Uint8Array(text.length + 100);
  big.set(text, 50);
  const view = big.subarray(50, 50 + text.length);
  const [a, b] = await Promise.all([w.compress(own, "brotli", 5), w.compress(view, "brotli", 5)]);
  expect(brotliDecompressSync(a).equals(text)).toBe(true);
  expect(brotliDecompressSync(b).equals(text)).toBe(true);
  // The view's buffer stays the caller's (a copy went to the worker).
  expect(big.byteLength).toBe(text.length + 100);
  expect(Buffer.from(big.subarray(50, 50 + text.length)).equals(text)).toBe(true);
});

test("the worker's gzip form of a large blob decompresses to the exact bytes", async () => {
  const { CompressWorker } = await import("../../src/agent/compress-worker");
  const text = Buffer.from(".rule { margin: 0 auto }\n".repeat(40_000));
  const out = await new CompressWorker().compress(new Uint8Array(text), "gzip", 6);
  expect(gunzipSync(out).equals(text)).toBe(true);
});

test("forms still pending when the agent stopped are made after it starts again", async () => {
  const d3 = join(dir, "restart");
  const js = "export const restarted = 1;\n".repeat(300);
  {
    const blobs = new BlobStore(d3);
    const deployments = new Deployments(d3, blobs, 0, new Uint8Array(8));
    store(blobs, js);
    // An upload runs on: the forms wait for a quiet moment, and the agent stops before one comes.
    void blobs.busy(() => new Promise(() => {}));
    await deployments.stage("site", "d1", [{ path: "app.js", sha256: sha(js), size: js.length }]);
    await Bun.sleep(300);
    expect(existsSync(join(d3, "sites", "site", "deploys", "d1", "app.js.gz"))).toBe(false);
    expect(readdirSync(join(d3, "siblings"))).toEqual(["site~d1.json"]);
  }
  // A new process over the same data folder: resume() makes and links what was pending.
  const blobs = new BlobStore(d3);
  const deployments = new Deployments(d3, blobs, 0, new Uint8Array(8));
  deployments.siblings.resume();
  await deployments.siblings.idle();
  expect(gunzipSync(readFileSync(join(d3, "sites", "site", "deploys", "d1", "app.js.gz"))).toString()).toBe(js);
  expect(readdirSync(join(d3, "siblings"))).toEqual([]);
});

test("a node that is never quiet still makes its forms once it has been busy for starveMs, and not before", async () => {
  const d5 = join(dir, "never-quiet");
  const blobs = new BlobStore(d5);
  blobs.starveMs = 1500;
  const deployments = new Deployments(d5, blobs, 0, new Uint8Array(8));
  const js = "export const busy = true;\n".repeat(300);
  store(blobs, js);
  // Uploads run without a pause from here on.
  void blobs.busy(() => new Promise(() => {}));
  await deployments.stage("site", "d1", [{ path: "app.js", sha256: sha(js), size: js.length }]);
  const gz = join(d5, "sites", "site", "deploys", "d1", "app.js.gz");
  await Bun.sleep(700);
  expect(existsSync(gz)).toBe(false);
  await deployments.siblings.idle();
  expect(gunzipSync(readFileSync(gz)).toString()).toBe(js);
});

test("a folder named like a file's compressed form is the site's own: staging keeps it, before and after the form exists", async () => {
  const d4 = join(dir, "folder-clash");
  const blobs = new BlobStore(d4);
  const deployments = new Deployments(d4, blobs, 0, new Uint8Array(8));
  const css = ".a { color: red }\n".repeat(200);
  const inner = "inside the folder";
  store(blobs, css, inner);
  const manifest = [
    { path: "a.css", sha256: sha(css), size: css.length },
    { path: "a.css.gz/x.txt", sha256: sha(inner), size: inner.length },
  ];
  await deployments.stage("site", "d1", manifest);
  await deployments.siblings.idle();
  // The blob's .gz exists now; a second deployment in another account's tree (another owner) is built anew.
  await deployments.stage("site", "d2", manifest, { owner: "someone-else" });
  for (const id of ["d1", "d2"]) expect(readFileSync(join(d4, "sites", "site", "deploys", id, "a.css.gz", "x.txt"), "utf8")).toBe(inner);
});

test("a compression worker that dies fails the job it had, and later jobs are still answered (on the thread pool)", async () => {
  const { CompressWorker } = await import("../../src/agent/compress-worker");
  const w = new CompressWorker();
  const text = Buffer.from(Array.from({ length: 60_000 }, (_, i) => `.c${i} { width: ${i % 97}px }\n`).join(""));
  const slow = w.compress(new Uint8Array(text), "brotli", 11);
  await Bun.sleep(50);
  // As if the thread crashed mid-job.
  (w as unknown as { worker: Worker }).worker.terminate();
  expect(await slow.then(() => "answered", (e: Error) => e.message)).toMatch(/stopped/);
  const after = await w.compress(new Uint8Array(text), "gzip", 6);
  expect(gunzipSync(after).equals(text)).toBe(true);
});
