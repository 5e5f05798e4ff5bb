import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { SproutError } from "../shared/errors";
import { SYNC_READ, type LocalFile } from "./walk";

/**
 * The upload's tar (protocol/upload.ts: an uncompressed POSIX tar of regular files), written here
 * rather than with a tar library: entries are packed into chunks of about CHUNK bytes, so a site of
 * 5,000 small files is a few hundred writes to the socket, not 15,000 (one per header, body and
 * padding), and the node's reader gets as few chunks to take apart.
 */
const CHUNK = 512 * 1024;
const enc = new TextEncoder();

function put(b: Uint8Array, offset: number, length: number, text: string) {
  b.set(enc.encode(text).subarray(0, length), offset);
}
const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, "0")}\0`;

/**
 * TEMPLATE holds the fields every header shares (mode 0644, uid and gid 0, the ustar magic), and
 * spaces where the checksum goes: a header is this plus its name, size, mtime and type, written
 * byte by byte (encoding each field as text cost more than the rest of packing a small file).
 */
const TEMPLATE = (() => {
  const h = new Uint8Array(512);
  put(h, 100, 8, octal(0o644, 8));
  put(h, 108, 8, octal(0, 8));
  put(h, 116, 8, octal(0, 8));
  put(h, 148, 8, "        ");
  put(h, 257, 6, "ustar\0");
  put(h, 263, 2, "00");
  return h;
})();

/** putOctal writes `n` as `width - 1` octal digits and a NUL. */
function putOctal(h: Uint8Array, at: number, width: number, n: number) {
  for (let i = width - 2; i >= 0; i--) {
    h[at + i] = 48 + (n % 8);
    n = Math.floor(n / 8);
  }
  h[at + width - 1] = 0;
}

/** header writes one ustar header block for `name` into `b` at `at`. */
function header(b: Uint8Array, at: number, name: string, size: number, type: "0" | "x", mtime: number) {
  const h = b.subarray(at, at + 512);
  h.set(TEMPLATE);
  // Names here are at most 100 bytes (longer or non-ASCII ones go in a PAX record).
  enc.encodeInto(name, h.subarray(0, 100));
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, Math.max(0, Math.floor(mtime / 1000)));
  h[156] = type.charCodeAt(0);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i]!;
  putOctal(h, 148, 7, sum);
  h[155] = 0x20;
}

/** paxRecord is one "LEN key=value\n" line, LEN counting itself. */
function paxRecord(key: string, value: string): Uint8Array {
  const body = ` ${key}=${value}\n`;
  const n = enc.encode(body).length;
  let len = n + 1;
  while (String(len).length + n !== len) len = String(len).length + n;
  return enc.encode(`${len}${body}`);
}

const pad = (n: number) => (512 - (n % 512)) % 512;

/**
 * tarStream packs `files` as a web stream, pulled as the network takes it: files up to 1 MB are read
 * whole (a few ahead of the writer), larger ones in chunks through a file handle, so memory stays at
 * a few chunks whatever the site's size. `onBytes` counts body bytes sent, `fileDone` once per file.
 * A file whose size changed since it was hashed fails the upload (its digest would not match).
 */
export function tarStream(files: LocalFile[], onBytes: (n: number, fileDone: boolean) => void): ReadableStream<Uint8Array> {
  let i = 0;
  /** Reads of the next small files, started early so the disk is busy while a chunk is sent. */
  const ahead = new Map<number, Promise<Uint8Array>>();
  const readSmall = (k: number) => {
    const f = files[k]!;
    const have = f.content ?? f.read;
    return have ? Promise.resolve(have) : Bun.file(f.abs).bytes();
  };
  const small = (f: LocalFile) => f.content !== undefined || f.read !== undefined || f.size <= 1024 * 1024;
  // Files up to SYNC_READ are read with one blocking call when their turn comes (as hashing reads
  // them): an asynchronous read costs more CPU than such a file's bytes, CPU the node's side of the
  // upload needs on a machine that runs both. Larger ones are read ahead.
  const prefetch = () => {
    for (let k = i; k < Math.min(files.length, i + 16); k++) {
      const f = files[k]!;
      if (!ahead.has(k) && !f.content && !f.read && f.size > SYNC_READ && small(f)) {
        const read = readSmall(k);
        read.catch(() => {}); // a failed read ahead is reported when its turn comes, not as unhandled
        ahead.set(k, read);
      }
    }
  };
  let big: { handle: Awaited<ReturnType<typeof open>>; left: number; file: LocalFile } | null = null;
  let finished = false;

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        await fill(controller);
      } catch (e) {
        // A file removed or unreadable since it was hashed: say which, in the deploy's terms (fetch
        // hands the stream's error on as is, and the CLI would take any other for the node's).
        if (e instanceof SproutError) throw e;
        throw changed(big?.file ?? files[Math.min(i, files.length - 1)]!);
      }
    },
    async cancel() {
      await big?.handle.close();
    },
  });

  async function fill(controller: ReadableStreamDefaultController<Uint8Array>) {
    const buf = new Uint8Array(CHUNK + 1024);
    let at = 0;
    const room = () => CHUNK - at;
    while (at < CHUNK) {
      if (big) {
        // Continue a large file: as much as fits in this chunk.
        const want = Math.min(big.left, room());
        const { bytesRead } = await big.handle.read(buf, at, want, big.file.size - big.left);
        if (bytesRead !== want) {
          await big.handle.close();
          throw changed(big.file);
        }
        at += bytesRead;
        big.left -= bytesRead;
        onBytes(bytesRead, false);
        if (big.left === 0) {
          await big.handle.close();
          const p = pad(big.file.size);
          buf.fill(0, at, at + p);
          at += p;
          onBytes(0, true);
          big = null;
        }
        continue;
      }
      if (i >= files.length) {
        if (!finished) {
          // Two zero blocks end the archive.
          if (at + 1024 > buf.length) break;
          buf.fill(0, at, at + 1024);
          at += 1024;
          finished = true;
        }
        break;
      }
      const f = files[i]!;
      const nameBytes = enc.encode(f.path).length;
      const needsPax = nameBytes > 100 || /[^\x20-\x7e]/.test(f.path);
      const pax = needsPax ? paxRecord("path", f.path) : null;
      const headBytes = 512 + (pax ? 512 + pax.length + pad(pax.length) : 0);
      if (small(f)) {
        // A small file goes in whole; a chunk grows past CHUNK rather than splitting it.
        if (at > 0 && at + headBytes + f.size + pad(f.size) > CHUNK) break;
        // Bytes hashing kept are used as they are: no promise per file.
        let body = f.content ?? f.read;
        if (!body && f.size <= SYNC_READ && !ahead.has(i)) body = readFileSync(f.abs);
        if (!body) {
          prefetch();
          body = await (ahead.get(i) ?? readSmall(i));
          ahead.delete(i);
        }
        f.read = undefined; // copied into the chunk: let it go
        if (body.length !== f.size) throw changed(f);
        const need = at + headBytes + body.length + pad(body.length);
        const out = need > buf.length ? grow(buf, at, need) : buf;
        at = writeHeaders(out, at, f, pax);
        out.set(body, at);
        at += body.length;
        out.fill(0, at, at + pad(body.length));
        at += pad(body.length);
        i++;
        onBytes(f.size, true);
        if (out !== buf) {
          controller.enqueue(out.subarray(0, at));
          return;
        }
        continue;
      }
      if (at + headBytes > CHUNK) break;
      at = writeHeaders(buf, at, f, pax);
      big = { handle: await open(f.abs, "r"), left: f.size, file: f };
      i++;
    }
    if (at > 0) controller.enqueue(buf.subarray(0, at));
    if (finished && !big && i >= files.length) controller.close();
  }
}

function writeHeaders(b: Uint8Array, at: number, f: LocalFile, pax: Uint8Array | null): number {
  if (pax) {
    header(b, at, "PaxHeader", pax.length, "x", f.mtimeMs);
    at += 512;
    b.set(pax, at);
    at += pax.length;
    b.fill(0, at, at + pad(pax.length));
    at += pad(pax.length);
  }
  // With a PAX path, the ustar name is only a fallback for readers that ignore PAX.
  header(b, at, pax ? f.path.slice(-90).replace(/[^\x20-\x7e]/g, "_") : f.path, f.size, "0", f.mtimeMs);
  return at + 512;
}

function grow(buf: Uint8Array, at: number, need: number): Uint8Array {
  const out = new Uint8Array(need);
  out.set(buf.subarray(0, at));
  return out;
}

function changed(f: LocalFile) {
  return new SproutError(409, "changed", `${f.path} changed while deploying; run the deploy again.`);
}
