import type { Services } from "../master/context";

/** How long one event stream stays open; htmx reconnects, which checks the session again. */
const STREAM_LIFETIME_MS = 5 * 60 * 1000;
/** A comment line this often keeps proxies (and the server's idle timeout) from closing a quiet stream. */
const KEEPALIVE_MS = 20_000;
/** Changes closer together than this are sent as one render. */
const SETTLE_MS = 60;
/** How often a stream checks that its login still stands (logged out elsewhere, account disabled). */
const ALIVE_CHECK_MS = 2000;

/** LiveOptions say when a live fragment may have changed, and when it is final. */
export interface LiveOptions {
  /** wake: subscribe to changes; answers the unsubscribe. */
  wake?: (changed: () => void) => () => void;
  /** everyMs: also render this often (node health arrives by heartbeat, not by event). */
  everyMs?: number;
  /** final: after sending a render for which this is true, send `event: done` and close. */
  final?: () => boolean;
  /** alive: the viewer's login still stands; once it does not, the stream sends `event: done` and ends. */
  alive?: () => boolean;
}

/**
 * liveFragment answers a Server-Sent Events stream of one fragment: rendered at once, then again
 * whenever `wake` fires (or every `everyMs`), sent only when the HTML changed. The page's element
 * carries `hx-sse:connect` (htmx's SSE extension) and swaps each message in. Renders are plain
 * functions of the database, so a missed wake-up costs nothing but freshness; nothing is trusted
 * to arrive in order.
 */
export function liveFragment(signal: AbortSignal, render: () => string, opts: LiveOptions): Response {
  const enc = new TextEncoder();
  let stop = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let last = "";
      let timer: Timer | null = null;
      let closed = false;
      const send = (text: string) => {
        if (!closed) controller.enqueue(enc.encode(text));
      };
      const close = () => {
        if (closed) return;
        closed = true;
        stop();
        try {
          controller.close();
        } catch {
          /* already closed by the client */
        }
      };
      /** signedOut ends the stream of a login that ended: nothing more is shown to that browser. */
      const signedOut = () => {
        if (!opts.alive || opts.alive()) return false;
        send("event: done\ndata: signed out\n\n");
        close();
        return true;
      };
      const push = () => {
        timer = null;
        if (closed || signedOut()) return;
        let html: string;
        try {
          html = render();
        } catch {
          // The thing shown is gone (site deleted): tell htmx to stop rather than reconnect forever.
          send("event: done\ndata: gone\n\n");
          return close();
        }
        if (html !== last) {
          last = html;
          // Every line end SSE knows (CR LF, LF, and a bare CR, which tenants' text may hold) starts a
          // new data line: text must never end a line and write its own fields (`event: done`...).
          send(`data: ${html.replace(/\r\n|\r|\n/g, "\ndata: ")}\n\n`);
        }
        if (opts.final?.()) {
          send("event: done\ndata: done\n\n");
          close();
        }
      };
      const soon = () => {
        if (!timer && !closed) timer = setTimeout(push, SETTLE_MS);
      };
      const unwake = opts.wake?.(soon) ?? (() => {});
      const every = opts.everyMs ? setInterval(soon, opts.everyMs) : null;
      const keepalive = setInterval(() => send(": keep-alive\n\n"), KEEPALIVE_MS);
      const aliveCheck = opts.alive ? setInterval(signedOut, ALIVE_CHECK_MS) : null;
      const lifetime = setTimeout(close, STREAM_LIFETIME_MS);
      stop = () => {
        unwake();
        if (every) clearInterval(every);
        clearInterval(keepalive);
        if (aliveCheck) clearInterval(aliveCheck);
        clearTimeout(lifetime);
        if (timer) clearTimeout(timer);
      };
      signal.addEventListener("abort", close, { once: true });
      push();
    },
    cancel() {
      stop();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" } });
}

/** deploymentWake wakes a live view when a deployment matching `which` logs a line. */
export const deploymentWake =
  (s: Services, which: (deploymentId: string) => boolean) =>
  (changed: () => void): (() => void) =>
    s.deployments.watch((id) => {
      if (which(id)) changed();
    });
