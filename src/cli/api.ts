import type { ErrorBody } from "../protocol/common";
import type { TokenPair } from "../protocol/user";
import { SproutError } from "../shared/errors";
import { loadCredentials, saveCredentials, type Credentials } from "./credentials";

/**
 * Api is the CLI's client of the master. SPROUT_MASTER and SPROUT_TOKEN (an access JWT or API token)
 * win over stored credentials, for CI; with stored credentials an expired access token is refreshed
 * once (the refresh token rotates, so the new pair is saved).
 */
export class Api {
  constructor(
    readonly master: string,
    private token: string | null,
    private creds: Credentials | null,
  ) {}

  static fromEnv(masterFlag?: string): Api {
    const creds = loadCredentials();
    const master = (masterFlag || process.env.SPROUT_MASTER || creds?.master || "").replace(/\/+$/, "");
    if (!master) throw new SproutError(401, "not_logged_in", "No master configured.", "Run `sprout login --master URL`, or set SPROUT_MASTER and SPROUT_TOKEN.");
    if (process.env.SPROUT_TOKEN) return new Api(master, process.env.SPROUT_TOKEN, null);
    const usable = creds && creds.master.replace(/\/+$/, "") === master ? creds : null;
    return new Api(master, usable?.access_token ?? null, usable);
  }

  /** call sends a JSON request and answers the parsed JSON, or throws a SproutError from the error body. */
  async call<T>(method: string, path: string, body?: unknown, auth = true): Promise<T> {
    const res = await this.send(method, path, body, auth);
    if (res.status === 401 && auth && this.creds) {
      const err = (await res.clone().json().catch(() => null)) as ErrorBody | null;
      if (err?.error.code === "token_expired" && (await this.refresh())) return this.parse<T>(await this.send(method, path, body, auth));
    }
    return this.parse<T>(res);
  }

  private async send(method: string, path: string, body: unknown, auth: boolean): Promise<Response> {
    if (auth && !this.token) throw new SproutError(401, "not_logged_in", "You are not logged in.", "Run `sprout login`, or set SPROUT_TOKEN.");
    return request(`${this.master}${path}`, {
      method,
      headers: { ...(auth && this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }, `the master at ${this.master}`);
  }

  private async parse<T>(res: Response): Promise<T> {
    return parseResponse<T>(res);
  }

  private async refresh(): Promise<boolean> {
    if (!this.creds) return false;
    const res = await this.send("POST", "/api/token/refresh", { refresh_token: this.creds.refresh_token }, false);
    if (!res.ok) return false;
    const pair = (await res.json()) as TokenPair;
    this.creds = { ...this.creds, access_token: pair.access_token, refresh_token: pair.refresh_token };
    this.token = pair.access_token;
    saveCredentials(this.creds);
    return true;
  }
}

/** request is fetch with an error that says which server could not be reached. */
export async function request(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    throw new SproutError(503, "unreachable", `Cannot reach ${what}: ${(e as Error).message}.`, what.includes("master") ? "Is `sprout master` running?" : undefined);
  }
}

/** parseResponse answers the JSON of a 2xx response or throws the API's error as a SproutError. */
export async function parseResponse<T>(res: Response): Promise<T> {
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: reported below */
  }
  if (!res.ok) {
    const e = (data as ErrorBody | null)?.error;
    throw new SproutError(res.status, e?.code ?? "http_error", e?.message ?? `HTTP ${res.status}: ${text.slice(0, 200)}`, e?.hint);
  }
  return data as T;
}
