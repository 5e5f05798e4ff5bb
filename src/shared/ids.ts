import { customAlphabet } from "nanoid";

/**
 * newId makes ids from a lower-case alphabet so a deployment id can be a host label
 * (`<deployment-id>--<site>.<domain>`). 14 characters of 36 symbols: ~72 bits.
 */
export const newId = customAlphabet("0123456789abcdefghijklmnopqrstuvwxyz", 14);

/** newSecret makes a random url-safe secret of `bytes` random bytes. */
export function newSecret(bytes = 32): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64url");
}

/** Token prefixes tell token kinds apart at a glance and let the master reject the wrong kind early. */
export const TOKEN_PREFIX = {
  api: "spt_",
  refresh: "spr_",
  agent: "spa_",
} as const;

/** sha256Hex hashes a string (tokens are stored only as their hash). */
export function sha256Hex(s: string | Uint8Array): string {
  return Bun.CryptoHasher.hash("sha256", s, "hex") as string;
}
