import { expect, test } from "bun:test";
import { compatible, peerOf, versionMismatch } from "../../src/protocol/version";

const peer = (protocol: number, min_protocol = protocol, version = `v${protocol}`) => ({ version, protocol, min_protocol });

test("builds are compatible when the newer one still speaks the older one's protocol, in either order", () => {
  expect(compatible(peer(3, 2), peer(2))).toBe(true);
  expect(compatible(peer(2), peer(3, 2))).toBe(true);
  expect(compatible(peer(3, 3), peer(2))).toBe(false);
  expect(compatible(peer(2), peer(3, 3))).toBe(false);
  expect(compatible(peer(1), peer(1))).toBe(true);
});

test("headers that are missing or nonsense are no peer; a min above the protocol is clamped", () => {
  expect(peerOf(new Headers())).toBeNull();
  expect(peerOf(new Headers({ "x-sprout-protocol": "abc" }))).toBeNull();
  expect(peerOf(new Headers({ "x-sprout-protocol": "2", "x-sprout-min-protocol": "9", "x-sprout-version": "0.2.0" }))).toEqual({ version: "0.2.0", protocol: 2, min_protocol: 2 });
});

test("the refusal names both builds and which one to upgrade", () => {
  const old = versionMismatch(peer(3, 3, "0.3.0"), peer(1, 1, "0.1.0"), "agent", "http://m:7000");
  expect(old.status).toBe(409);
  expect(old.message).toBe("This agent runs sprout 0.1.0 (protocol 1), too old for the master, which runs sprout 0.3.0 (protocol 3).");
  expect(old.hint).toContain("sprout upgrade --master http://m:7000");
  const young = versionMismatch(peer(1, 1, "0.1.0"), peer(3, 2, "0.3.0"), "CLI");
  expect(young.message).toBe("This CLI runs sprout 0.3.0 (protocol 3, speaks 2-3), too new for the master, which runs sprout 0.1.0 (protocol 1).");
  expect(young.hint).toContain("Upgrade the master");
});
