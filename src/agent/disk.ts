import { SproutError } from "../shared/errors";

/** isDiskFull tells whether a file-system error means the node's disk (or the agent's quota) is full. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/**
 * outOfDisk is the error a deploy reports when a node's disk fills up while it writes: the upload
 * (or replication) stops, what it wrote is removed, and the agent keeps serving what it has.
 */
export function outOfDisk(node: string): SproutError {
  return new SproutError(
    507,
    "out_of_disk",
    `Node ${node} is out of disk.`,
    `Free space on ${node} (or give it a larger disk), then run the deploy again; the sites it serves are not affected.`,
  );
}

/** diskFullAs answers `outOfDisk(node)` for a full-disk error and the error itself otherwise. */
export function diskFullAs(node: string, e: unknown): unknown {
  return isDiskFull(e) ? outOfDisk(node) : e;
}
