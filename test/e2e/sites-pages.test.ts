// GET /api/sites pages through an account's sites (X-Next-Cursor), and the CLI follows the pages.
import { beforeAll, expect, test } from "bun:test";
import { type Cluster, useCluster } from "../helpers/cluster";

const cl = useCluster({ agents: 0, masterArgs: ["--quota-sites", "1000"] });
let c: Cluster;
beforeAll(() => {
  c = cl();
});

const get = async (path: string, token = c.admin.token) => {
  const r = await fetch(`${c.master}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, next: r.headers.get("x-next-cursor"), link: r.headers.get("link"), body: (await r.json()) as any };
};

test("GET /api/sites answers pages of the caller's sites, newest first, and X-Next-Cursor leads through all of them once", async () => {
  const created: string[] = [];
  for (let i = 0; i < 230; i++) {
    const name = `page-${String(i).padStart(3, "0")}`;
    const r = await fetch(`${c.master}/api/site`, { method: "POST", headers: { authorization: `Bearer ${c.admin.token}`, "content-type": "application/json" }, body: JSON.stringify({ name }) });
    expect(r.status).toBe(201);
    created.push(name);
  }
  const first = await get("/api/sites");
  expect(first.status).toBe(200);
  expect(first.body.length).toBe(100);
  expect(first.next).toBeTruthy();
  expect(first.link).toContain('rel="next"');
  const seen: string[] = [];
  const times: string[] = [];
  let page = first;
  for (;;) {
    seen.push(...page.body.map((s: any) => s.name));
    times.push(...page.body.map((s: any) => s.created_at));
    if (!page.next) break;
    page = await get(`/api/sites?cursor=${encodeURIComponent(page.next)}`);
    expect(page.status).toBe(200);
  }
  expect(seen.length).toBe(230);
  expect(new Set(seen).size).toBe(230);
  expect([...seen].sort()).toEqual([...created].sort());
  // Newest first: the last one created leads (sites made in the same millisecond are in id order).
  expect(times).toEqual([...times].sort().reverse());
  expect(times[0]).toBe(times[seen.indexOf("page-229")]);
  expect(times[0]! > times[seen.indexOf("page-000")]!).toBe(true);
  const big = await get("/api/sites?limit=1000");
  expect(big.body.length).toBe(230);
  expect(big.next).toBeNull();
  expect(big.body.map((s: any) => s.name)).toEqual(seen);
  expect(big.body.find((s: any) => s.name === "page-229")).toMatchObject({ url: expect.stringContaining("page-229."), settings: { spa: false }, nodes: [] });
});

test("the CLI lists every site across pages; a cursor cannot show another account's sites; a forged cursor or limit is a 400", async () => {
  const r = await c.sprout(["sites", "--json"]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout).length).toBe(230);
  const other = await c.user("pages-other@example.com");
  const admins = await get("/api/sites?limit=5");
  const theirs = await get(`/api/sites?cursor=${encodeURIComponent(admins.next!)}`, other);
  expect(theirs.status).toBe(200);
  expect(theirs.body).toEqual([]);
  const forged = await get("/api/sites?cursor=not-a-cursor");
  expect(forged.status).toBe(400);
  expect(forged.body.error.code).toBe("bad_cursor");
  for (const limit of ["0", "1001", "lots"]) expect((await get(`/api/sites?limit=${limit}`)).status).toBe(400);
});
