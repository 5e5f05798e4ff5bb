import { isTextualType, typeOf } from "./nginx/mime";

/**
 * PRECOMPRESS_MIN: smaller files get no precompressed siblings. Made at deploy time, `.gz` and `.br`
 * save nginx compressing on each request, which for a file under 1 KiB costs microseconds and saves
 * no round trip (it fits one TCP segment either way); nginx still gzips those on the fly (from 256
 * bytes, see nginx/config.ts). On a site of thousands of small files, their siblings were up to
 * four files and links more per file on the deploy's critical path.
 */
export const PRECOMPRESS_MIN = 1024;

/** isCompressible tells whether a file is worth a precompressed `.gz` sibling (served by gzip_static). */
export function isCompressible(path: string, size: number): boolean {
  if (size < PRECOMPRESS_MIN) return false;
  const type = typeOf(path);
  return type !== null && isTextualType(type);
}
