// Small blobs are written straight under their digest's name (BlobStore.putSmall). A process killed
// mid-write can leave a short file there; it must never be trusted without a check.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BlobStore } from "../../src/agent/blobs";

const dir = mkdtempSync(join(tmpdir(), "sprout-blobs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");

test("a small blob is stored under its digest with no temporary file left, and a second put is not new", () => {
  const store = new BlobStore(join(dir, "a"));
  const bytes = new TextEncoder().encode("body { color: red }\n".repeat(40));
  expect(store.putSmall(sha(bytes), bytes)).toBe(true);
  expect(readFileSync(store.path(sha(bytes)))).toEqual(Buffer.from(bytes));
  expect(store.putSmall(sha(bytes), bytes)).toBe(false);
  expect(readdirSync(store.tmpDir)).toEqual([]);
});

test("a short blob left by a killed upload is replaced by the verified bytes when they come again after a restart", () => {
  const data = join(dir, "b");
  const bytes = new TextEncoder().encode("export const x = 1;\n".repeat(100));
  const first = new BlobStore(data);
  const p = first.path(sha(bytes));
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, bytes.subarray(0, 700)); // what a kill -9 in the middle of the write leaves
  const restarted = new BlobStore(data);
  expect(restarted.putSmall(sha(bytes), bytes)).toBe(false);
  expect(readFileSync(p)).toEqual(Buffer.from(bytes));
  expect(readdirSync(restarted.tmpDir)).toEqual([]);
});
