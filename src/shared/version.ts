import pkg from "../../package.json";

/** VERSION is Sprout's version, embedded at build time. */
export const VERSION: string = pkg.version;
