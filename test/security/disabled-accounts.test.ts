// Disabling an account (POST /api/users/:id/disable, admin), attacked as the disabled person and as
// another tenant would, against the compiled binary over real HTTP: nothing the account holds keeps
// working, and only the admin can do it.
import { expect, test } from "bun:test";
import { api, useCluster } from "../helpers/cluster";

const c = useCluster({ agents: 0 });
const PASSWORD = "another password";

const login = (email: string, password: string) => api(c().master, "POST", "/api/user/token", { email, password });
const idOf = async (email: string) => (await api(c().master, "GET", "/api/users", undefined, c().admin.token)).body.find((u: { email: string }) => u.email === email).id as string;
const disable = (id: string, disabled: boolean, token = c().admin.token) => api(c().master, "POST", `/api/users/${id}/disable`, { disabled }, token);

test("a disabled account's access token, refresh token and API token all stop; its password is refused without telling a guesser", async () => {
  await c().user("gone@example.com");
  const pair = (await login("gone@example.com", PASSWORD)).body;
  const apiToken = (await api(c().master, "POST", "/api/tokens", { name: "ci", scope: "deploy" }, pair.access_token)).body.token as string;
  const id = await idOf("gone@example.com");

  const r = await disable(id, true);
  expect(r.status).toBe(200);
  expect(r.body.disabled_at).toBeString();
  expect((await api(c().master, "GET", "/api/user/info", undefined, pair.access_token)).status).toBe(401);
  const refreshed = await api(c().master, "POST", "/api/token/refresh", { refresh_token: pair.refresh_token });
  expect(refreshed.status).toBe(401);
  const viaApiToken = await api(c().master, "GET", "/api/sites", undefined, apiToken);
  expect(viaApiToken.status).toBe(403);
  expect(viaApiToken.body.error.code).toBe("account_disabled");
  // Only someone who knows the password learns that the account is disabled.
  const wrong = await login("gone@example.com", "not the password");
  expect(wrong.status).toBe(401);
  expect(JSON.stringify(wrong.body)).not.toContain("disabled");
  const right = await login("gone@example.com", PASSWORD);
  expect(right.status).toBe(403);
  expect(right.body.error.code).toBe("account_disabled");
  // Disabling twice is harmless; the listing shows it.
  expect((await disable(id, true)).status).toBe(200);
  expect((await api(c().master, "GET", "/api/users", undefined, c().admin.token)).body.find((u: { id: string }) => u.id === id).disabled_at).toBeString();

  // Enabled again: the password and the API token work; the logins it had stay ended.
  expect((await disable(id, false)).body.disabled_at).toBeNull();
  expect((await api(c().master, "GET", "/api/sites", undefined, apiToken)).status).toBe(200);
  expect((await api(c().master, "POST", "/api/token/refresh", { refresh_token: pair.refresh_token })).status).toBe(401);
  expect((await login("gone@example.com", PASSWORD)).status).toBe(200);
});

test("only the admin disables accounts: a tenant, an admin's read token and the admin's own account are refused", async () => {
  const tenant = await c().user("tenant@example.com");
  await c().user("target@example.com");
  const target = await idOf("target@example.com");
  expect((await disable(target, true, tenant)).status).toBe(403);
  const readToken = (await api(c().master, "POST", "/api/tokens", { name: "ro", scope: "read" }, c().admin.token)).body.token as string;
  expect((await disable(target, true, readToken)).status).toBe(403);
  expect((await api(c().master, "GET", "/api/user/info", undefined, tenant)).status).toBe(200);
  expect((await disable(await idOf(c().admin.email), true)).status).toBe(403);
  expect((await disable("nosuchuser1234", true)).status).toBe(404);
  expect((await login("target@example.com", PASSWORD)).status).toBe(200);
});
