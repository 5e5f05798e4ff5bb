import pkg from "../../package.json";

/** SPROUT_BUILD_VERSION is set by `bun run build` when SPROUT_VERSION is in its environment (test builds, releases). */
declare const SPROUT_BUILD_VERSION: string | undefined;
/** SPROUT_BUILD_PROTOCOL likewise overrides PROTOCOL, so a test can build an incompatible binary. */
declare const SPROUT_BUILD_PROTOCOL: string | undefined;

/** VERSION is Sprout's version, embedded at build time. */
export const VERSION: string = typeof SPROUT_BUILD_VERSION === "string" ? SPROUT_BUILD_VERSION : pkg.version;

/**
 * PROTOCOL is the version of the wire contract between master, agents and CLIs (src/protocol/). It
 * goes up by one whenever a message changes in a way an older peer would misread; releases that only
 * add optional fields keep it.
 */
export const PROTOCOL: number = typeof SPROUT_BUILD_PROTOCOL === "string" ? Number(SPROUT_BUILD_PROTOCOL) : 1;

/**
 * MIN_PROTOCOL is the oldest peer protocol this build still speaks: a new master keeps working with
 * agents and CLIs one or more protocols behind, so a cluster can be upgraded one machine at a time.
 */
export const MIN_PROTOCOL: number = typeof SPROUT_BUILD_PROTOCOL === "string" ? Number(SPROUT_BUILD_PROTOCOL) : 1;
