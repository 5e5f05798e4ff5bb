import { SproutError } from "../shared/errors";

/**
 * normalizeMaster turns what a user typed for the master into its base URL: without a scheme it is
 * http:// for this machine (localhost, *.localhost, 127.*, ::1) and https:// for anything else; a
 * trailing slash goes. A scheme other than http(s), or something that is no address at all, is an
 * error that shows the form expected.
 */
export function normalizeMaster(input: string, what = "--master"): string {
  const hasScheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(input.trim());
  const raw = hasScheme ? input.trim() : input.trim().replace(/\/+$/, "");
  const host = (hasScheme ? "" : raw).replace(/[/?#].*$/, "").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  const local = host === "localhost" || host.endsWith(".localhost") || /^127\./.test(host) || host === "::1";
  const candidate = hasScheme ? raw : `${local ? "http" : "https"}://${raw}`;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    throw new SproutError(400, "bad_master_url", `${what} "${input}" is not a URL.`, "Give the master's address, e.g. https://sprout.example.com or http://127.0.0.1:7000.");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new SproutError(400, "bad_master_url", `${what} "${input}" uses ${url.protocol.slice(0, -1)}://; the master speaks http:// or https://.`, `Use e.g. https://${url.host || "sprout.example.com"}.`);
  if (!url.hostname) throw new SproutError(400, "bad_master_url", `${what} "${input}" names no host.`, "Give the master's address, e.g. https://sprout.example.com.");
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
}
