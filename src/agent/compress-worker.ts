import { brotliCompress, gzip, constants as zlibConstants } from "node:zlib";
import { promisify } from "node:util";
import { logger } from "../shared/log";

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);
const log = logger("agent");

/**
 * COMPRESS_NICE: how far the worker thread lowers its priority below the agent's. At +10, against a
 * busy thread of the agent's priority it gets about a tenth of a core (+19 would be about 1%, and a
 * node that is never idle would hardly ever make its compressed forms); deploys and nginx keep the rest.
 */
export const COMPRESS_NICE = 10;

/** Format: which compressed form a job makes; `level` is brotli's quality or gzip's level. */
export type Format = "gzip" | "brotli";

/**
 * WORKER_SOURCE runs in a worker thread that lowers its own scheduling priority (Linux's nice is
 * per thread), then compresses one blob per message. Inline rather than a file of its own: the
 * compiled binary has nothing beside it to load.
 */
const WORKER_SOURCE = `
import { brotliCompressSync, gzipSync, constants as z } from "node:zlib";
import { getPriority, setPriority } from "node:os";
try { setPriority(0, Math.min(19, getPriority(0) + ${COMPRESS_NICE})); } catch {}
self.onmessage = (e) => {
  const { id, raw, format, level } = e.data;
  try {
    const out = format === "gzip"
      ? gzipSync(raw, { level })
      : brotliCompressSync(raw, { params: { [z.BROTLI_PARAM_QUALITY]: level, [z.BROTLI_PARAM_SIZE_HINT]: raw.length } });
    // Handed over, not copied (a buffer of its own first when it is a view on a bigger one).
    const own = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? new Uint8Array(out.buffer) : new Uint8Array(out);
    postMessage({ id, out: own }, [own.buffer]);
  } catch (err) {
    postMessage({ id, error: String(err && err.message || err) });
  }
};
`;

/** RefWorker: Bun's Worker, which can stop keeping the process alive while idle. */
type RefWorker = Worker & { ref(): void; unref(): void };

/**
 * CompressWorker makes compressed forms on one worker thread at a low CPU priority (COMPRESS_NICE).
 * Brotli at quality 11 costs some 30x gzip: on the zlib thread pool at normal priority, the forms
 * of a deploy of thousands of files took a core for tens of seconds and slowed whatever came next
 * on the node (the next deploy, nginx); in the deploy bench that was half the node's CPU during a
 * one-file redeploy. The gzip forms of large files run here too, for the same reason. At a low
 * priority they take mostly CPU nothing else wants. Without worker threads (an error starting
 * one), it falls back to the thread pool.
 */
export class CompressWorker {
  private worker: RefWorker | null = null;
  private broken = false;
  private next = 0;
  private waiting = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();

  /**
   * compress answers the `format` form of `raw` at `level`. `raw` should be a buffer of its own: it
   * is handed to the worker, not copied (a 100 MB blob would otherwise be held twice more while it
   * compresses), and is empty here afterwards.
   */
  compress(raw: Uint8Array, format: Format, level: number): Promise<Uint8Array> {
    const w = this.start();
    if (!w) {
      const out = format === "gzip" ? gzipAsync(raw, { level }) : brotliAsync(raw, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: level, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
      return out.then((b) => new Uint8Array(b));
    }
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.ref();
      const own = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength ? raw : raw.slice();
      w.postMessage({ id, raw: own, format, level }, [own.buffer as ArrayBuffer]);
    });
  }

  private start(): RefWorker | null {
    if (this.worker || this.broken) return this.worker;
    try {
      const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
      const w = new Worker(url) as RefWorker;
      w.onmessage = (e: MessageEvent<{ id: number; out?: Uint8Array; error?: string }>) => {
        const job = this.waiting.get(e.data.id);
        this.waiting.delete(e.data.id);
        // An idle worker does not keep the agent's process alive.
        if (!this.waiting.size) w.unref();
        if (!job) return;
        if (e.data.out) job.resolve(e.data.out);
        else job.reject(new Error(e.data.error ?? "compression failed"));
      };
      w.onerror = (e) => this.fail(new Error(e.message || "the compression worker stopped"));
      // A worker that exits leaves no job waiting for an answer that will not come.
      w.addEventListener("close", () => this.fail(new Error("the compression worker stopped")));
      w.unref();
      this.worker = w;
    } catch {
      this.broken = true;
    }
    return this.worker;
  }

  /** fail ends the worker; jobs under way fail (each only costs its file's compressed form) and later ones use the pool. */
  private fail(e: Error) {
    if (!this.broken) log.warn("compression worker stopped: compressed forms are made on the thread pool from now on", { error: e.message });
    this.broken = true;
    this.worker?.terminate();
    this.worker = null;
    for (const job of this.waiting.values()) job.reject(e);
    this.waiting.clear();
  }
}
