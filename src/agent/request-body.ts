import { SproutError, tooLarge } from "../shared/errors";
import { readWithin } from "../shared/read-within";

/**
 * DEFAULT_IDLE_TIMEOUT_S: how long the agent API waits for a client that sends nothing (--idle-timeout):
 * a connection idle between requests, a request whose headers or body stopped arriving. As the master's.
 */
export const DEFAULT_IDLE_TIMEOUT_S = 120;

/**
 * INIT_BODY_LIMIT: POST /api/upload/init carries the manifest the master accepted (its own limit for
 * that body is 32 MB, master/body-limit.ts) plus the grant. Anyone may send this route a body, so it
 * is read within this limit rather than whole.
 */
export const INIT_BODY_LIMIT = 33 * 1024 * 1024;

/**
 * watchStalls passes `body` through, but errors it (and cancels the request's body) when the client
 * sends nothing for `ms` while the agent waits for its next bytes. Bun's own idle timer cannot do this
 * for a request body: it does not restart as body bytes arrive, so it cut uploads that were making
 * progress (measured: a body at 100 KB/s cut after twice the timeout), and routes that take long
 * bodies turn it off (server.timeout(request, 0)) and use this instead. The timer runs only while a
 * read waits on the client: while the agent itself pauses (a slow disk), nothing counts.
 */
export function watchStalls(body: ReadableStream<Uint8Array>, ms: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(out) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const stalled = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the client sent nothing for ${Math.round(ms / 1000)} s`)), ms);
        });
        try {
          const r = await Promise.race([reader.read(), stalled]);
          if (r.done) out.close();
          else out.enqueue(r.value);
        } catch (e) {
          void reader.cancel().catch(() => {});
          out.error(e);
        } finally {
          clearTimeout(timer);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    // No read-ahead: the agent pulls when it is ready for more, so its own pauses never count.
    { highWaterMark: 0 },
  );
}

/**
 * readLimited reads a whole (watched) body as text, and stops with 413 once it passes `limit` bytes, so
 * a body far larger than the route takes is never held in memory.
 */
export function readLimited(body: ReadableStream<Uint8Array> | null, limit: number): Promise<string> {
  return readWithin(body, limit, () => tooLarge(`The request body is larger than this route takes (${limit} bytes).`));
}

/** stalledBody answers a body read that stopped because the client stopped sending (408). */
export function stalledBody(e: unknown): SproutError {
  return new SproutError(408, "request_timeout", `The request body stopped arriving: ${(e as Error).message}.`, "Check the network between the client and the node, and send again.");
}
