import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TarReader } from "../../src/agent/tar-reader";
import { tarStream } from "../../src/cli/tar-pack";
import { makeTar } from "../helpers/tar";
import { SproutError } from "../../src/shared/errors";

/** chunked feeds `bytes` as a stream of `size`-byte chunks (headers and bodies split anywhere). */
function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function readAll(body: ReadableStream<Uint8Array>) {
  const tar = new TarReader(body);
  const out: { name: string; type: string; size: number; text: string }[] = [];
  for (let h = await tar.next(); h; h = await tar.next()) {
    let text = "";
    if (h.size > 100_000) for await (const c of tar.chunks()) text += new TextDecoder().decode(c);
    else text = new TextDecoder().decode(await tar.readAll());
    out.push({ name: h.name, type: h.type, size: h.size, text });
  }
  return out;
}

const long = `${"deep/".repeat(30)}file-with-a-long-name.txt`;

test("the node's tar reader reads what the tar library writes: long names (PAX), ustar prefixes, every type, in any chunking", async () => {
  const tar = await makeTar([
    { header: { name: "a.txt" }, body: "alpha" },
    { header: { name: long }, body: "long" },
    { header: { name: "café/é.txt" }, body: "unicode" },
    { header: { name: "link", type: "symlink", linkname: "/etc/passwd", size: 0 } },
    { header: { name: "dir", type: "directory", size: 0 } },
    { header: { name: "empty.txt" }, body: "" },
  ]);
  for (const size of [1, 7, 512, 513, 100_000]) {
    const got = await readAll(chunked(tar, size));
    expect(got.map((e) => [e.name, e.type, e.text])).toEqual([
      ["a.txt", "file", "alpha"],
      [long, "file", "long"],
      ["café/é.txt", "file", "unicode"],
      ["link", "symlink", ""],
      ["dir", "directory", ""],
      ["empty.txt", "file", ""],
    ]);
  }
});

test("the CLI's tar packs what the node's reader and GNU tar read back byte-exact, large files included", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sprout-tar-"));
  try {
    mkdirSync(join(dir, "src", "x"), { recursive: true });
    const files = [
      { path: "index.html", bytes: new TextEncoder().encode("<h1>hi</h1>") },
      { path: long, bytes: new TextEncoder().encode("deep") },
      { path: "big.bin", bytes: crypto.getRandomValues(new Uint8Array(3 * 1024 * 1024 + 17)) },
      { path: "medium.bin", bytes: crypto.getRandomValues(new Uint8Array(700 * 1024)) },
      { path: "x/zero", bytes: new Uint8Array(0) },
    ];
    const local = files.map((f, i) => {
      const abs = join(dir, "src", `f${i}`);
      writeFileSync(abs, f.bytes);
      return { path: f.path, abs, size: f.bytes.length, mtimeMs: Date.now() };
    });
    let sent = 0;
    const stream = tarStream(local, (n) => (sent += n));
    const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    expect(sent).toBe(files.reduce((n, f) => n + f.bytes.length, 0));
    const tar = new TarReader(chunked(bytes, 65536));
    for (const f of files) {
      const h = (await tar.next())!;
      expect(h.name).toBe(f.path);
      expect(h.size).toBe(f.bytes.length);
      const parts: Uint8Array[] = [];
      for await (const c of tar.chunks()) parts.push(c.slice());
      expect(Buffer.concat(parts).equals(Buffer.from(f.bytes))).toBe(true);
    }
    expect(await tar.next()).toBeNull();
    // GNU tar agrees (checksums, PAX path, padding).
    writeFileSync(join(dir, "upload.tar"), bytes);
    const list = Bun.spawnSync(["tar", "-tf", join(dir, "upload.tar")]).stdout.toString().trim().split("\n");
    expect(list).toEqual(files.map((f) => f.path));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file removed after hashing fails the upload as 'changed while deploying', naming it, whatever its size", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sprout-tar-gone-"));
  try {
    for (const size of [10, 200 * 1024, 3 * 1024 * 1024]) {
      const keep = join(dir, "keep.txt");
      const gone = join(dir, `gone-${size}`);
      writeFileSync(keep, "kept");
      writeFileSync(gone, new Uint8Array(size));
      const stream = tarStream(
        [
          { path: "keep.txt", abs: keep, size: 4, mtimeMs: Date.now() },
          { path: `gone-${size}.bin`, abs: gone, size, mtimeMs: Date.now() },
        ],
        () => {},
      );
      rmSync(gone);
      const err = await new Response(stream).arrayBuffer().then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(SproutError);
      expect((err as SproutError).message).toBe(`gone-${size}.bin changed while deploying; run the deploy again.`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a damaged header, a stream cut inside an entry and an oversized PAX header are errors, not entries", async () => {
  const tar = await makeTar([{ header: { name: "a.txt" }, body: "alpha".repeat(300) }]);
  const bad = tar.slice();
  bad[10] = bad[10]! ^ 0xff; // in the name: the checksum no longer matches
  await expect(readAll(chunked(bad, 512))).rejects.toThrow(/checksum/);
  await expect(readAll(chunked(tar.slice(0, 900), 512))).rejects.toThrow(/end of data/);
  const pax = await makeTar([{ header: { name: "p".repeat(200_000) }, body: "x" }]);
  await expect(readAll(chunked(pax, 4096))).rejects.toThrow(/too large/);
});
