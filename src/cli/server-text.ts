/**
 * CONTROL matches what a terminal would act on rather than show: C0 controls but tab and newline
 * (ESC starts colour, cursor, title and OSC 8/52 sequences; CR rewrites the line; BEL), DEL, and C1
 * controls (U+009B is CSI on terminals that read C1 from UTF-8).
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** printable replaces each control character of a server's text with U+FFFD, so it is shown, not obeyed. */
export const printable = (s: string): string => s.replace(CONTROL, "\ufffd");

/**
 * printableDeep applies `printable` to every string (object keys too) of a parsed JSON answer. The
 * CLI shows what the master and nodes answer, much of it another party's text (deploy messages,
 * emails, audit details, event lines of a node; all of it from a master that is not the one it
 * claims to be): written raw, an escape sequence in it would drive the user's terminal (retitle
 * it, rewrite what was printed, write the clipboard by OSC 52, hide a line) and `--json | jq -r`
 * would pass it on as well.
 */
export function printableDeep(v: unknown): unknown {
  if (typeof v === "string") return printable(v);
  if (Array.isArray(v)) return v.map(printableDeep);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [printable(k), printableDeep(x)]));
  return v;
}
