/**
 * readWithin reads a request body as text and stops as soon as it passes `limit` bytes, throwing
 * `tooBig()`, so a body far larger than the route takes (sent without Content-Length, or with a
 * false one) is never held whole in memory. The master's and the agent's routes both read so.
 */
export async function readWithin(body: ReadableStream<Uint8Array> | null, limit: number, tooBig: () => Error): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooBig();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
