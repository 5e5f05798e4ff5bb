import { isTextualType, typeOf } from "./nginx/mime";

/** isCompressible tells whether a file is worth a precompressed `.gz` sibling (served by gzip_static). */
export function isCompressible(path: string, size: number): boolean {
  if (size < 256) return false;
  const type = typeOf(path);
  return type !== null && isTextualType(type);
}
