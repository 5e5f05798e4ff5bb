import { lookup } from "mime-types";

const TEXTUAL = /^(text\/|application\/(javascript|json|xml|wasm|manifest\+json|ld\+json|rss\+xml|atom\+xml|xhtml\+xml)|image\/svg\+xml|font\/(ttf|otf))/;

/** isCompressible tells whether a file is worth a precompressed `.gz` sibling (served by gzip_static). */
export function isCompressible(path: string, size: number): boolean {
  if (size < 256) return false;
  const type = lookup(path);
  return typeof type === "string" && TEXTUAL.test(type);
}
