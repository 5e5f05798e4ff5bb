import type { HeaderBlock } from "./headers";
import { escapeRegex, resourcePattern } from "./patterns";

/**
 * Header sets: all of a site's `_headers` blocks in ONE nginx map, so that a site with rules costs
 * nginx one variable and one map for its headers, whatever the number of blocks and header names.
 * (Each nginx map costs about a megabyte of zeroed memory while the configuration is read, and
 * each variable name is looked up in a list of all of them: per-header maps made a reload with
 * 2,000 such sites take many seconds.)
 *
 * This works for the paths nearly every `_headers` uses: literal paths, with or without a final
 * `/*`. Their literal parts form a tree; the blocks that match a resource are the splat blocks at
 * its ancestors and itself, plus the exact blocks at itself. So one regex per tree node and kind of
 * match ("is this node", "is under this node"), deepest nodes first, names the whole set of
 * blocks that apply, and the map's value carries their headers, one field per slot:
 *
 *   <Cache-Control> SEP <htpasswd file> SEP <slot 0> SEP <slot 1> ...
 *
 * nginx.conf's global maps ($sprout_hcc, $sprout_htpasswd, $sprout_h<k>) read the fields. Paths
 * with placeholders, or more header lines than there are slots, fall back to a map per header.
 */

/** SEP separates the fields: a control character, which no header value may hold (headers.ts). */
export const SEP = "\x1f";
/** HEADER_SLOTS is how many header lines one request may get from a site's header sets. */
export const HEADER_SLOTS = 24;

export interface HeaderSets {
  /** entries of the site's map on $sprout_resource: regex (anchored) and value, in order. */
  entries: { regex: string; value: string; comment: string }[];
  /** slots: the header name sent from each slot, in slot order. */
  slots: string[];
  /** hasCacheControl / hasAuth: whether any block sets them (else the fields stay empty). */
  hasCacheControl: boolean;
  hasAuth: boolean;
}

/** literalNode is a block's place in the tree: its literal path ("" is the root) and whether it ends in a splat; null when it has placeholders. */
function literalNode(path: string): { node: string; splat: boolean } | null {
  const r = resourcePattern(path);
  const splat = r === "/*" || r.endsWith("/*");
  const literal = splat ? r.slice(0, -2) : r;
  if (literal.includes("*") || /(^|\/):/.test(literal)) return null;
  return { node: literal === "/" ? "" : literal.replace(/\/+$/, ""), splat };
}

const within = (ancestor: string, node: string) => ancestor === "" || node === ancestor || node.startsWith(`${ancestor}/`);

/**
 * headerSets builds a site's header sets, or answers null when a block's path has placeholders or
 * the site needs more than HEADER_SLOTS header lines for one path (the caller then uses per-header maps).
 * `htpasswd(i)` is the file of the i-th block in `blocks` that has Basic-Auth.
 */
export function headerSets(blocks: HeaderBlock[], htpasswd: (block: HeaderBlock) => string): HeaderSets | null {
  const placed = blocks.map((b) => ({ b, at: literalNode(b.path) }));
  if (placed.some((x) => x.at === null)) return null;
  const nodes = [...new Set(placed.map((x) => x.at!.node))].sort((a, b) => b.split("/").length - a.split("/").length || (a < b ? -1 : 1));
  const isCc = (name: string) => name.toLowerCase() === "cache-control";

  // The blocks that apply at each region, in file order.
  const regions: { regex: string; comment: string; blocks: HeaderBlock[] }[] = [];
  for (const node of nodes) {
    const lit = node === "" ? "" : escapeRegex(node);
    const exact = placed.filter((x) => (x.at!.splat ? within(x.at!.node, node) : x.at!.node === node)).map((x) => x.b);
    const under = placed.filter((x) => x.at!.splat && within(x.at!.node, node)).map((x) => x.b);
    regions.push({ regex: node === "" ? "^/?$" : `^${lit}/?$`, comment: node || "/", blocks: exact });
    if (under.length) regions.push({ regex: `^${lit}/`, comment: `${node}/*`, blocks: under });
  }

  // Slots: a header name gets as many as the most blocks that send it to one path.
  const need = new Map<string, { name: string; count: number }>();
  for (const r of regions) {
    const counts = new Map<string, number>();
    for (const b of r.blocks)
      for (const h of b.headers)
        if (!isCc(h.name)) {
          const key = h.name.toLowerCase();
          counts.set(key, (counts.get(key) ?? 0) + 1);
          const n = need.get(key) ?? { name: h.name, count: 0 };
          n.count = Math.max(n.count, counts.get(key)!);
          need.set(key, n);
        }
  }
  const slots: string[] = [];
  const firstSlot = new Map<string, number>();
  for (const [key, n] of need) {
    firstSlot.set(key, slots.length);
    for (let i = 0; i < n.count; i++) slots.push(n.name);
  }
  if (slots.length > HEADER_SLOTS) return null;

  const entries = regions
    .filter((r) => r.blocks.length)
    .map((r) => {
      const fields = new Array<string>(slots.length).fill("");
      const used = new Map<string, number>();
      for (const b of r.blocks)
        for (const h of b.headers) {
          if (isCc(h.name)) continue;
          const key = h.name.toLowerCase();
          const k = used.get(key) ?? 0;
          used.set(key, k + 1);
          fields[firstSlot.get(key)! + k] = h.value;
        }
      // Cache-Control and Basic-Auth: the first block in file order that has them.
      const cc = r.blocks.flatMap((b) => b.headers.filter((h) => isCc(h.name)))[0]?.value ?? "";
      const auth = r.blocks.find((b) => b.basicAuth.length);
      const value = [cc, auth ? htpasswd(auth) : "", ...fields].join(SEP);
      return { regex: r.regex, value, comment: `${r.comment} (${r.blocks.map((b) => `${b.file} line ${b.line}`).join(", ")})` };
    });
  return {
    entries,
    slots,
    hasCacheControl: blocks.some((b) => b.headers.some((h) => isCc(h.name))),
    hasAuth: blocks.some((b) => b.basicAuth.length > 0),
  };
}

/** globalHeaderMaps are nginx.conf's maps that read the fields of $sprout_hs (see headerSets). */
export function globalHeaderMaps(): string {
  const field = (k: number) => `^(?:[^\\x1f]*\\x1f){${k}}(?<sprout_f${k}>[^\\x1f]+)`;
  const maps = [
    `map $sprout_hs $sprout_hcc {\n    volatile;\n    "~${field(0)}" $sprout_f0;\n    default $sprout_cache_control;\n  }`,
    `map $sprout_hs $sprout_htpasswd {\n    volatile;\n    "~${field(1)}" $sprout_f1;\n    default "";\n  }`,
    `map $sprout_htpasswd $sprout_realm {\n    volatile;\n    "" off;\n    default "Restricted";\n  }`,
  ];
  for (let k = 0; k < HEADER_SLOTS; k++) maps.push(`map $sprout_hs $sprout_h${k} {\n    volatile;\n    "~${field(k + 2)}" $sprout_f${k + 2};\n    default "";\n  }`);
  return maps.join("\n  ");
}
