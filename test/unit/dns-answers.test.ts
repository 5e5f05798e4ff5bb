// The master proves a custom domain by what its resolver answers (a CNAME to the site, a TXT token).
// lookup took any datagram carrying the query's 16-bit id, from any address or port and about any
// name: someone able to send the master UDP could forge the proof by guessing the id (a check is
// asked for at will). Only the resolver's own answer to the question asked counts now.
import { expect, test } from "bun:test";
import { createSocket, type Socket } from "node:dgram";
import * as dnsPacket from "dns-packet";
import { DnsError, lookup } from "../../src/master/services/dns";

const bound = async (): Promise<Socket> => {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  return s;
};

/** resolver answers every question with a CNAME to `target`, sent from `via` (itself by default). */
async function resolver(target: string, opts: { via?: Socket; name?: string } = {}) {
  const s = await bound();
  s.on("message", (msg, from) => {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0]!;
    const answer = dnsPacket.encode({
      type: "response",
      id: q.id,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ ...question, name: opts.name ?? question.name }],
      answers: [{ type: "CNAME", name: opts.name ?? question.name, data: target }],
    });
    (opts.via ?? s).send(answer, from.port, from.address);
  });
  return s;
}

test("the resolver's answer to the question is taken", async () => {
  const s = await resolver("blog.sprout.test");
  const a = await lookup({ host: "127.0.0.1", port: s.address().port }, "www.example.test", "A", 1000);
  expect(a.cnames).toEqual(["blog.sprout.test"]);
  s.close();
});

test("an answer from another port is not taken, even with the right id", async () => {
  const forger = await bound();
  const s = await resolver("evil.sprout.test", { via: forger });
  await expect(lookup({ host: "127.0.0.1", port: s.address().port }, "www.example.test", "A", 1000)).rejects.toBeInstanceOf(DnsError);
  s.close();
  forger.close();
});

test("an answer about another name is not taken", async () => {
  const s = await resolver("evil.sprout.test", { name: "other.example.test" });
  await expect(lookup({ host: "127.0.0.1", port: s.address().port }, "www.example.test", "A", 1000)).rejects.toBeInstanceOf(DnsError);
  s.close();
});
