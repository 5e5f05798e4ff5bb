import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { logger } from "../shared/log";
import { secureFetch } from "../shared/tls";
import { AGENT_HEADERS, FatalAuthError } from "./master-link";

/**
 * SyncedDocument is a document the master serves an agent and the agent keeps in step with: a
 * gateway's routes (gateway/route-sync.ts), a node's certificates (tls-sync.ts). It asks for it
 * every `everyMs` with the version last applied as ETag (unchanged costs a 304) and hands a new one
 * to `received`; a failed request or a rejected document is logged and asked for again, and the
 * agent goes on with what it has. The owner keeps each document it applies in `file` (save(),
 * 0600: these documents hold keys) and applies the saved one at start (saved()), so an agent
 * restarted while the master is down serves what it served.
 */
export class SyncedDocument<T extends { version: string }> {
  private running = true;

  constructor(
    private o: {
      master: string;
      /** path: the document's address on the master, e.g. /api/agent/routes. */
      path: string;
      token: string;
      /** masterPin: the master's certificate pin, when it is self-signed. */
      masterPin?: string;
      file: string;
      everyMs: number;
      log: ReturnType<typeof logger>;
      /** refused: the error when the master refuses the token, before its reason. */
      refused: string;
      /** failed: the warning logged when the document could not be fetched or applied. */
      failed: string;
      /** version: the version of the document applied last (its ETag), or null. */
      version: () => string | null;
      /** received: applies a document that differs from `version`. */
      received: (doc: T) => Promise<void>;
    },
  ) {}

  /** saved answers the document kept by an earlier run, or null when there is none. */
  saved(): T | null {
    return existsSync(this.o.file) ? (JSON.parse(readFileSync(this.o.file, "utf8")) as T) : null;
  }

  /** save keeps `doc` for the next start (written whole, then renamed into place). */
  save(doc: T) {
    writeFileSync(`${this.o.file}.tmp`, JSON.stringify(doc), { mode: 0o600 });
    renameSync(`${this.o.file}.tmp`, this.o.file);
  }

  /** run polls until stop(); it rejects when the master refuses the agent's token. */
  async run() {
    while (this.running) {
      try {
        await this.pollOnce();
      } catch (e) {
        if (e instanceof FatalAuthError) throw e;
        this.o.log.warn(this.o.failed, { error: (e as Error).message });
      }
      await Bun.sleep(this.o.everyMs);
    }
  }

  stop() {
    this.running = false;
  }

  private async pollOnce() {
    const version = this.o.version();
    const res = await secureFetch(
      `${this.o.master}${this.o.path}`,
      {
        // Its build, so that a master that cannot work with it refuses (409) rather than be misread.
        headers: { ...AGENT_HEADERS, authorization: `Bearer ${this.o.token}`, ...(version ? { "if-none-match": `"${version}"` } : {}) },
        signal: AbortSignal.timeout(10_000),
      },
      this.o.masterPin,
    );
    if (res.status === 304) return;
    if (res.status === 401 || res.status === 403) {
      const e = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new FatalAuthError(`${this.o.refused}: ${e.error?.message ?? res.status}`);
    }
    if (!res.ok) throw new Error(`GET ${this.o.path}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    await this.o.received((await res.json()) as T);
  }
}
