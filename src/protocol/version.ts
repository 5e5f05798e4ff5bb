import { SproutError } from "../shared/errors";
import { MIN_PROTOCOL, PROTOCOL, VERSION } from "../shared/version";

/**
 * Version headers go on every request and answer between master, agents and CLIs, so each side can
 * refuse a peer it cannot understand instead of misreading it. A peer without them predates version
 * checks and counts as protocol 1.
 */
export const VERSION_HEADER = "x-sprout-version";
export const PROTOCOL_HEADER = "x-sprout-protocol";
export const MIN_PROTOCOL_HEADER = "x-sprout-min-protocol";

/** Peer is one side's build, as its headers (or a heartbeat) describe it. */
export interface Peer {
  version: string;
  protocol: number;
  min_protocol: number;
}

/** SELF is this build. */
export const SELF: Peer = { version: VERSION, protocol: PROTOCOL, min_protocol: MIN_PROTOCOL };

/** versionHeaders are the headers that describe this build. */
export const versionHeaders = (): Record<string, string> => ({
  [VERSION_HEADER]: VERSION,
  [PROTOCOL_HEADER]: String(PROTOCOL),
  [MIN_PROTOCOL_HEADER]: String(MIN_PROTOCOL),
});

/** peerOf reads a peer's build from its headers; null when it sent none (see VERSION_HEADER). */
export function peerOf(headers: Headers): Peer | null {
  const protocol = Number(headers.get(PROTOCOL_HEADER));
  if (!headers.has(PROTOCOL_HEADER) || !Number.isInteger(protocol) || protocol < 1) return null;
  const min = Number(headers.get(MIN_PROTOCOL_HEADER));
  return { version: headers.get(VERSION_HEADER)?.slice(0, 40) || "unknown", protocol, min_protocol: Number.isInteger(min) && min >= 1 && min <= protocol ? min : protocol };
}

/**
 * compatible tells whether two builds can talk: the newer one decides, by the oldest protocol it
 * still speaks. Both sides reach the same answer, so neither acts on a message it would misread.
 */
export function compatible(a: Peer, b: Peer): boolean {
  const [older, newer] = a.protocol <= b.protocol ? [a, b] : [b, a];
  return older.protocol >= newer.min_protocol;
}

/** describe names a build for messages: "sprout 0.2.0 (protocol 2, speaks 1-2)". */
export const describe = (p: Peer) => `sprout ${p.version} (protocol ${p.protocol}${p.min_protocol < p.protocol ? `, speaks ${p.min_protocol}-${p.protocol}` : ""})`;

/** LEGACY is what a peer without version headers is taken for: a build from before version checks. */
export const LEGACY: Peer = { version: "unknown (older than version checks)", protocol: 1, min_protocol: 1 };

/**
 * versionMismatch is the error both sides raise for an incompatible pair: it names both builds and
 * says which one to upgrade. `other` is the agent or CLI talking to the master; `masterUrl`, when
 * known, goes into the command to run.
 */
export function versionMismatch(master: Peer, other: Peer, role: "agent" | "CLI", masterUrl?: string): SproutError {
  const otherOlder = other.protocol < master.protocol;
  const where = masterUrl ? ` --master ${masterUrl}` : "";
  const message = otherOlder
    ? `This ${role} runs ${describe(other)}, too old for the master, which runs ${describe(master)}.`
    : `This ${role} runs ${describe(other)}, too new for the master, which runs ${describe(master)}.`;
  const hint =
    role === "agent"
      ? otherOlder
        ? `Upgrade the node: run \`sprout upgrade${where}\` on it (it installs the master's binary and restarts the agent), or \`sprout agents upgrade\` from a CLI.`
        : "Upgrade the master first (a cluster is upgraded master first, then its agents with `sprout agents upgrade`), or run `sprout upgrade` on the node to install the master's version."
      : otherOlder
        ? `Install the master's version of the CLI: \`sprout upgrade${where}\` (or curl -fsSL ${masterUrl ?? "MASTER"}/install.sh | sudo sh).`
        : `Upgrade the master, or install its version of the CLI: \`sprout upgrade${where}\`.`;
  return new SproutError(409, "incompatible_version", message, hint);
}
