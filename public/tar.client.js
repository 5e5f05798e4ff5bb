// Sprout admin UI: builds the POSIX tar stream the node's POST /api/upload/file takes (protocol/upload.ts),
// as a Blob made of the files themselves: nothing is read into memory until the browser sends it.

const enc = new TextEncoder();

function field(block, offset, length, text) {
  block.set(enc.encode(text).subarray(0, length), offset);
}
const octal = (n, width) => n.toString(8).padStart(width - 1, "0") + "\0";

function header(name, size, type) {
  const b = new Uint8Array(512);
  field(b, 0, 100, name);
  field(b, 100, 8, octal(0o644, 8));
  field(b, 108, 8, octal(0, 8));
  field(b, 116, 8, octal(0, 8));
  field(b, 124, 12, octal(size, 12));
  field(b, 136, 12, octal(Math.floor(Date.now() / 1000), 12));
  field(b, 148, 8, "        ");
  field(b, 156, 1, type);
  field(b, 257, 6, "ustar\0");
  field(b, 263, 2, "00");
  let sum = 0;
  for (const x of b) sum += x;
  field(b, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

const padding = (size) => new Uint8Array((512 - (size % 512)) % 512);

/** paxRecord is one "LEN key=value\n" line, LEN counting itself. */
function paxRecord(key, value) {
  const body = ` ${key}=${value}\n`;
  const n = enc.encode(body).length;
  let len = n + 1;
  while (String(len).length + n !== len) len = String(len).length + n;
  return `${len}${body}`;
}

/**
 * tarParts answers the Blob parts of a tar holding `entries` ({ path, file }). A path longer than 100
 * bytes, or not plain ASCII, goes in a PAX header, as the CLI's tar library writes it.
 */
export function tarParts(entries) {
  const parts = [];
  for (const { path, file } of entries) {
    const bytes = enc.encode(path);
    if (bytes.length > 100 || /[^\x20-\x7e]/.test(path)) {
      const pax = enc.encode(paxRecord("path", path));
      parts.push(header("PaxHeader", pax.length, "x"), pax, padding(pax.length));
      parts.push(header(path.slice(-90).replace(/[^\x20-\x7e]/g, "_"), file.size, "0"));
    } else parts.push(header(path, file.size, "0"));
    parts.push(file, padding(file.size));
  }
  parts.push(new Uint8Array(1024));
  return parts;
}
