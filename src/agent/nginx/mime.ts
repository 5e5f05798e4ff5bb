import mime from "mime-types";

/**
 * The content types a node serves, all from the `mime-types` package (the IANA and Apache lists that
 * Netlify's own table follows): nginx's `types`, which of them carry `charset=utf-8`, which are
 * gzipped on the fly and which files get a precompressed sibling at deploy time. Kept here so that
 * the four never disagree.
 */

/** TEXTUAL matches the types worth compressing (text, scripts, data, SVG, uncompressed fonts). */
const TEXTUAL = /^(text\/|application\/(javascript|json|xml|wasm|manifest\+json|ld\+json|geo\+json|rss\+xml|atom\+xml|xhtml\+xml)|image\/svg\+xml|font\/(ttf|otf))/;

/** isTextualType tells whether a content type is worth compressing. */
export function isTextualType(type: string): boolean {
  return TEXTUAL.test(type);
}

/** typeOf answers the content type of a file name, or null when the extension is unknown. */
export function typeOf(path: string): string | null {
  const t = mime.lookup(path);
  return typeof t === "string" ? t : null;
}

/** extensionsByType inverts mime-types' extension table (each extension maps to its one preferred type). */
function extensionsByType(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [ext, type] of Object.entries(mime.types)) {
    // Only what nginx can take unquoted; the package holds nothing else today.
    if (!/^[a-z0-9._+-]+\/[A-Za-z0-9._+-]+$/.test(type) || !/^[A-Za-z0-9_+-]+$/.test(ext)) continue;
    out.set(type, [...(out.get(type) ?? []), ext]);
  }
  return out;
}

/** charsetTypes lists the types sent with `; charset=utf-8` (text types and UTF-8 data such as JSON and JavaScript). */
export function charsetTypes(): string[] {
  return [...extensionsByType().keys()].filter((t) => mime.charset(t) === "UTF-8").sort();
}

/** gzipTypes lists the types nginx compresses on the fly when no `.gz` sibling exists. */
export function gzipTypes(): string[] {
  return [...extensionsByType().keys()].filter(isTextualType).sort();
}

/**
 * nginxTypes renders the http-level directives that give every response its content type: the
 * `types` table (one line per type), the charset for text types, and the hash sizes nginx needs for
 * a table of some 1,200 extensions.
 */
export function nginxTypes(indent = "  "): string {
  const lines = [...extensionsByType()].sort(([a], [b]) => a.localeCompare(b)).map(([type, exts]) => `  ${type} ${exts.join(" ")};`);
  return [
    `# Content types from the mime-types package (src/agent/nginx/mime.ts); unknown extensions are binary.`,
    `types_hash_max_size 4096;`,
    `types_hash_bucket_size 128;`,
    `default_type application/octet-stream;`,
    `charset utf-8;`,
    // text/html always gets the charset; naming it again makes nginx warn.
    `charset_types ${charsetTypes().filter((t) => t !== "text/html").join(" ")};`,
    `types {`,
    ...lines,
    `}`,
  ].join(`\n${indent}`);
}
