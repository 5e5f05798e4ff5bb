import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

/**
 * AgentState is what the agent learned from the master (its id, the platform domain, the key that
 * signs upload grants) plus its own upload-token secret, saved in <data>/state.json (0600) so a
 * restarted agent serves and verifies uploads even while the master is away.
 */
export interface AgentState {
  agentId: string | null;
  domain: string | null;
  grantPublicKey: string | null;
  uploadSecret: string;
}

/**
 * StateFile writes only when something changed (and on first start): an agent restarting on a full
 * disk must not fail on a file it already has.
 */
export class StateFile {
  readonly path: string;
  state: AgentState;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, "state.json");
    if (existsSync(this.path)) this.state = JSON.parse(readFileSync(this.path, "utf8")) as AgentState;
    else {
      this.state = { agentId: null, domain: null, grantPublicKey: null, uploadSecret: randomBytes(32).toString("base64url") };
      this.save();
    }
  }

  /** update saves `change` when it differs from what is saved; answers whether it did. */
  update(change: Partial<AgentState>): boolean {
    const next = { ...this.state, ...change };
    if (JSON.stringify(next) === JSON.stringify(this.state)) return false;
    this.state = next;
    this.save();
    return true;
  }

  uploadSecret(): Uint8Array {
    return new TextEncoder().encode(this.state.uploadSecret);
  }

  private save() {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state, null, 2), { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
