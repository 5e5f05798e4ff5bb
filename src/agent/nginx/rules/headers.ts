import { compilePattern } from "./patterns";
import type { RuleWarning } from "./types";

/** HeaderBlock is one path pattern of `_headers` and the headers it sets. */
export interface HeaderBlock {
  line: number;
  path: string;
  headers: { name: string; value: string }[];
  /** basicAuth: user:password pairs that protect the matching paths. */
  basicAuth: { user: string; password: string }[];
}

export const MAX_HEADER_BLOCKS = 500;

/**
 * parseHeaders reads Netlify's `_headers`: a path pattern at column 0, then indented `Name: value`
 * lines; `#` comments. Invalid lines become warnings with their line number and are skipped.
 */
export function parseHeaders(text: string): { blocks: HeaderBlock[]; warnings: RuleWarning[] } {
  const blocks: HeaderBlock[] = [];
  const warnings: RuleWarning[] = [];
  const warn = (line: number, message: string) => warnings.push({ file: "_headers", line, message });
  let current: HeaderBlock | null = null;
  let skipping = false;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim() || raw.trim().startsWith("#")) return;
    if (!/^\s/.test(raw)) {
      current = null;
      skipping = false;
      const path = raw.trim();
      if (blocks.length >= MAX_HEADER_BLOCKS) {
        skipping = true;
        return warn(line, `more than ${MAX_HEADER_BLOCKS} blocks; the rest are ignored`);
      }
      try {
        compilePattern(path);
      } catch (e) {
        skipping = true;
        return warn(line, `${(e as Error).message}; this block is skipped`);
      }
      current = { line, path, headers: [], basicAuth: [] };
      blocks.push(current);
      return;
    }
    if (skipping) return;
    const block = current as HeaderBlock | null;
    if (!block) return warn(line, "a header line needs a path line above it");
    const m = /^\s+([A-Za-z0-9-]+)\s*:\s*(.*)$/.exec(raw);
    if (!m) return warn(line, "expected `Name: value`");
    const name = m[1]!;
    const value = m[2]!.trim();
    if (/["\\$]/.test(value) || /[\u0000-\u001f\u007f]/.test(value)) return warn(line, `the value of ${name} contains " \\ $ or a control character, which is not supported`);
    if (name.toLowerCase() === "basic-auth") {
      for (const pair of value.split(/\s+/).filter(Boolean)) {
        const idx = pair.indexOf(":");
        if (idx < 1 || idx === pair.length - 1) return warn(line, "Basic-Auth takes user:password pairs separated by spaces");
        block.basicAuth.push({ user: pair.slice(0, idx), password: pair.slice(idx + 1) });
      }
      return;
    }
    block.headers.push({ name, value });
  });
  return { blocks: blocks.filter((b) => b.headers.length || b.basicAuth.length), warnings };
}
