import { pack, type Header as Headers } from "tar-stream";

/** TarEntry is one entry to put in a hand-made archive (tests build bad ones on purpose). */
export interface TarEntry {
  header: Partial<Headers> & { name: string };
  body?: string | Uint8Array;
}

/** makeTar builds an uncompressed tar in memory from raw headers. */
export async function makeTar(entries: TarEntry[]): Promise<Uint8Array> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c: unknown) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on("end", () => r()));
  for (const e of entries) {
    const body = e.body === undefined ? undefined : typeof e.body === "string" ? Buffer.from(e.body) : Buffer.from(e.body);
    await new Promise<void>((res, rej) => p.entry({ type: "file", mode: 0o644, ...e.header, ...(body && e.header.size === undefined ? { size: body.length } : {}) } as Headers, body as Buffer, (err) => (err ? rej(err) : res())));
  }
  p.finalize();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}

export const sha256 = (s: string | Uint8Array) => new Bun.CryptoHasher("sha256").update(s).digest("hex");
