// watchStalls counts only the time the agent waits on the client: a body whose client stops is cut,
// and one the agent reads with long pauses of its own (a slow disk) is not.
import { expect, test } from "bun:test";
import { readLimited, watchStalls } from "../../src/agent/request-body";

const chunks = (n: number) => {
  let i = 0;
  return new ReadableStream<Uint8Array>({ pull: (c) => (i++ < n ? c.enqueue(new Uint8Array(1024)) : c.close()) });
};

test("a client that stops sending is cut after the timeout, and its body is cancelled", async () => {
  let cancelled = false;
  const silent = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new Uint8Array(10)), cancel: () => void (cancelled = true) });
  const r = watchStalls(silent, 200).getReader();
  expect((await r.read()).value?.length).toBe(10);
  const t0 = performance.now();
  await expect(r.read()).rejects.toThrow("the client sent nothing");
  expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
  expect(cancelled).toBe(true);
});

test("the agent's own pauses between reads, each longer than the timeout, do not count", async () => {
  const r = watchStalls(chunks(4), 100).getReader();
  let n = 0;
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    n += value.length;
    await Bun.sleep(250);
  }
  expect(n).toBe(4 * 1024);
});

test("readLimited stops at its limit with 413 rather than reading on", async () => {
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({ pull: (c) => void (pulled++, c.enqueue(new Uint8Array(1024))) });
  await expect(readLimited(endless, 10 * 1024)).rejects.toMatchObject({ status: 413 });
  expect(pulled).toBeLessThan(20);
  expect(await readLimited(chunks(3), 10 * 1024)).toHaveLength(3 * 1024);
});
