import { hashProblem } from "../../../shared/htpasswd";
import { compilePattern, decodePath } from "./patterns";
import type { RuleWarning, RulesFile } from "./types";

/** HeaderBlock is one path pattern of `_headers` and the headers it sets. */
export interface HeaderBlock {
  /** file and line: where the block was written. */
  file: RulesFile;
  line: number;
  path: string;
  headers: { name: string; value: string }[];
  /** basicAuth: user:password pairs that protect the matching paths. */
  basicAuth: { user: string; password: string }[];
}

export const MAX_HEADER_BLOCKS = 500;
/** Bounds on one `_headers`: its parse and the maps it compiles to stay small whatever it holds. */
export const MAX_HEADERS_PER_BLOCK = 100;
export const MAX_HEADER_LINES = 2000;
export const MAX_HEADER_VALUE = 4096;
/** MAX_RULES_FILE: bytes of a rules file that are read; the rest is ignored with a warning. */
export const MAX_RULES_FILE = 1024 * 1024;

/**
 * REFUSED_HEADERS frame the HTTP message or belong to the connection: set by a tenant they would
 * make nginx's answer ambiguous to a proxy in front (request smuggling) or break it. nginx sets them.
 */
const REFUSED_HEADERS = new Set([
  "connection", "content-encoding", "content-length", "content-range", "date", "keep-alive", "proxy-authenticate",
  "proxy-authorization", "proxy-connection", "server", "te", "trailer", "transfer-encoding", "upgrade", "host",
]);

/** headerProblem says why a `_headers` line may not be sent, or null. */
export function headerProblem(name: string, value: string): string | null {
  const n = name.toLowerCase();
  if (REFUSED_HEADERS.has(n)) return `${name} is set by the server and cannot be set in _headers`;
  // A cookie for the platform's domain would reach every other site on it.
  if (n === "set-cookie" && /;\s*domain\s*=/i.test(value)) return "Set-Cookie may not name a Domain (the cookie would reach other sites); leave it out so the cookie stays on this site";
  return null;
}

/**
 * parseHeaders reads Netlify's `_headers`: a path pattern at column 0, then indented `Name: value`
 * lines; `#` comments. Invalid lines become warnings with their line number and are skipped.
 */
export function parseHeaders(text: string): { blocks: HeaderBlock[]; warnings: RuleWarning[] } {
  const h = new HeaderRules();
  h.readText(text);
  return { blocks: h.blocks(), warnings: h.warnings };
}

/**
 * HeaderRules collects a site's header blocks from its rules files (`_headers`, then netlify.toml's
 * `[[headers]]`), so the caps hold for the site as a whole.
 */
export class HeaderRules {
  private all: HeaderBlock[] = [];
  readonly warnings: RuleWarning[] = [];
  private lines = 0;

  /** blocks answers the blocks that set something. */
  blocks(): HeaderBlock[] {
    return this.all.filter((b) => b.headers.length || b.basicAuth.length);
  }

  /** readText reads a `_headers` file. */
  readText(text: string) {
    const warn = (line: number, message: string, fatal = false) => this.warnings.push({ file: "_headers", line, message, ...(fatal ? { fatal } : {}) });
    let current: HeaderBlock | null = null;
    let skipping = false;
    if (text.length > MAX_RULES_FILE) {
      warn(1, `the file is over ${MAX_RULES_FILE} bytes; only the first ${MAX_RULES_FILE} are read`, /basic-auth/i.test(text.slice(MAX_RULES_FILE)));
      text = text.slice(0, MAX_RULES_FILE);
    }
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = i + 1;
      if (!raw.trim() || raw.trim().startsWith("#")) return;
      // Netlify's parser also takes unindented `Name: value` lines under a path.
      const unindentedHeader = !/^\s/.test(raw) && !raw.startsWith("/") && (current !== null || skipping) && /^[A-Za-z0-9-]+\s*:/.test(raw);
      if (!/^\s/.test(raw) && !unindentedHeader) {
        current = this.block("_headers", line, raw.trim());
        skipping = current === null;
        return;
      }
      const isAuth = /^\s*basic-auth\s*:/i.test(raw);
      // A Basic-Auth line that cannot be used fails the deploy: skipped, it would publish what it guards.
      if (skipping) return isAuth ? warn(line, "Basic-Auth under a path that cannot be used; the deploy stops rather than publish what it protects", true) : undefined;
      if (!current) return warn(line, "a header line needs a path line above it", isAuth);
      const m = /^\s*([A-Za-z0-9-]+)\s*:\s*(.*)$/.exec(raw);
      if (!m) return warn(line, "expected `Name: value`", isAuth);
      this.header("_headers", line, current, m[1]!, m[2]!.trim());
    });
  }

  /** block starts a block for a path pattern; null (with a warning) when the path cannot be used. */
  block(file: RulesFile, line: number, path: string): HeaderBlock | null {
    if (this.all.length >= MAX_HEADER_BLOCKS) {
      this.warnings.push({ file, line, message: `more than ${MAX_HEADER_BLOCKS} blocks; the rest are ignored` });
      return null;
    }
    try {
      path = decodePath(path);
      compilePattern(path);
    } catch (e) {
      this.warnings.push({ file, line, message: `${(e as Error).message}; this block is skipped` });
      return null;
    }
    const b: HeaderBlock = { file, line, path, headers: [], basicAuth: [] };
    this.all.push(b);
    return b;
  }

  /** header adds `name: value` to a block, or warns why not (fatally for a Basic-Auth that cannot be used). */
  header(file: RulesFile, line: number, block: HeaderBlock, name: string, value: string) {
    const isAuth = name.toLowerCase() === "basic-auth";
    const warn = (message: string, fatal = false) => this.warnings.push({ file, line, message, ...(fatal ? { fatal } : {}) });
    if (!value) return warn(`${name} has no value`, isAuth);
    if (/[\u0000-\u001f\u007f]/.test(value)) return warn(`the value of ${name} contains a control character`, isAuth);
    if (isAuth) {
      // Users and hashes go to an htpasswd file, not into nginx's configuration: `$6$...` hashes
      // (e.g. from `openssl passwd -6`) are fine here.
      for (const pair of value.split(/\s+/).filter(Boolean)) {
        const idx = pair.indexOf(":");
        if (idx < 1 || idx === pair.length - 1) return warn("Basic-Auth takes user:password pairs separated by spaces", true);
        const costly = hashProblem(pair.slice(idx + 1));
        if (costly) return warn(`Basic-Auth: ${costly}`, true);
        block.basicAuth.push({ user: pair.slice(0, idx), password: pair.slice(idx + 1) });
      }
      return;
    }
    if (/["\\$]/.test(value)) return warn(`the value of ${name} contains " \\ or $, which is not supported`);
    const refused = headerProblem(name, value);
    if (refused) return warn(refused);
    if (value.length > MAX_HEADER_VALUE) return warn(`the value of ${name} is over ${MAX_HEADER_VALUE} characters`);
    if (++this.lines > MAX_HEADER_LINES) return warn(`more than ${MAX_HEADER_LINES} header lines; the rest are ignored`);
    if (block.headers.length >= MAX_HEADERS_PER_BLOCK) return warn(`more than ${MAX_HEADERS_PER_BLOCK} headers in one block; the rest are ignored`);
    // A name given twice in one block sends one header with both values, as on Netlify.
    const same = block.headers.find((h) => h.name.toLowerCase() === name.toLowerCase());
    if (same && name.toLowerCase() !== "set-cookie") same.value = `${same.value}, ${value}`;
    else block.headers.push({ name, value });
  }
}
