import { parse } from "smol-toml";
import { isPasswordHash } from "./htpasswd";

// Basic-Auth in netlify.toml's [[headers]]: the CLI hashes its passwords before upload (as for
// `_headers`) and nodes refuse a file that still holds a plain one.

const isTable = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

/**
 * basicAuthValues answers the `Basic-Auth` values of a parsed netlify.toml's `[[headers]]` (strings,
 * or lists of them), with where each sits, for the CLI that hashes them and the node that refuses
 * plain ones.
 */
export function basicAuthValues(doc: Record<string, unknown>): { entry: number; name: string; value: string | string[] }[] {
  const out: { entry: number; name: string; value: string | string[] }[] = [];
  const list = Array.isArray(doc.headers) ? doc.headers : [];
  list.forEach((h, entry) => {
    if (!isTable(h) || !isTable(h.values)) return;
    for (const [name, value] of Object.entries(h.values))
      if (name.trim().toLowerCase() === "basic-auth" && (typeof value === "string" || Array.isArray(value))) out.push({ entry, name, value: value as string | string[] });
  });
  return out;
}

/** hasPlainTomlPassword tells whether a netlify.toml holds a Basic-Auth password that is not hashed (false when it does not parse: the rules reader fails it then). */
export function hasPlainTomlPassword(text: string): boolean {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch {
    return false;
  }
  return basicAuthValues(doc).some(({ value }) =>
    (Array.isArray(value) ? value : [value]).some((v) => typeof v === "string" && v.split(/\s+/).some((pair) => pair.includes(":") && !isPasswordHash(pair.slice(pair.indexOf(":") + 1)))),
  );
}
