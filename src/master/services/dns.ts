import { createSocket } from "node:dgram";
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import * as dnsPacket from "dns-packet";

/** DnsServer is the resolver the master asks (`--dns-server HOST:PORT`). */
export interface DnsServer {
  host: string;
  port: number;
}

/** DnsAnswer is what a lookup of one name found: its CNAME chain, addresses and TXT strings. */
export interface DnsAnswer {
  cnames: string[];
  addresses: string[];
  txt: string[];
}

/**
 * systemDnsServer is the first nameserver of /etc/resolv.conf (read only), or 1.1.1.1 when there is
 * none: the default of `--dns-server`.
 */
export function systemDnsServer(): DnsServer {
  try {
    if (existsSync("/etc/resolv.conf")) {
      const m = /^nameserver\s+(\S+)/m.exec(readFileSync("/etc/resolv.conf", "utf8"));
      if (m) return { host: m[1]!, port: 53 };
    }
  } catch {
    /* unreadable: fall back */
  }
  return { host: "1.1.1.1", port: 53 };
}

/** DnsError: the resolver did not answer usably (timeout, SERVFAIL); says nothing about the records. */
export class DnsError extends Error {}

const lower = (s: string) => s.toLowerCase().replace(/\.$/, "");

/**
 * sameAddress compares a datagram's source with the configured server (IPv4 may come IPv6-mapped).
 * A server given by name (`--dns-server localhost:53`) is not compared: the port and the question are.
 */
function sameAddress(from: string, server: string): boolean {
  const host = server.replace(/^\[|\]$/g, "").replace(/^::ffff:/, "");
  return !isIP(host) || from.replace(/^::ffff:/, "") === host;
}

/**
 * lookup asks `server` (UDP) for `name`'s A records and, with `type` TXT, its TXT records. A missing
 * name (NXDOMAIN) or no record answers empty lists; an unusable answer throws DnsError.
 */
export async function lookup(server: DnsServer, name: string, type: "A" | "AAAA" | "TXT", timeoutMs = 3000): Promise<DnsAnswer> {
  const sock = createSocket(server.host.includes(":") ? "udp6" : "udp4");
  const id = Math.floor(Math.random() * 65535);
  try {
    const packet = await new Promise<dnsPacket.DecodedPacket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DnsError(`no answer from the DNS server ${server.host}:${server.port} within ${timeoutMs} ms`)), timeoutMs);
      sock.on("error", (e) => {
        clearTimeout(timer);
        reject(new DnsError(`DNS query failed: ${e.message}`));
      });
      // Only the resolver's answer to this question counts: a datagram from any other address or
      // port, or about another name, is someone guessing the id (a forged answer could prove a
      // domain's CNAME or TXT record).
      sock.on("message", (msg: Buffer, from: { address: string; port: number }) => {
        if (from.port !== server.port || !sameAddress(from.address, server.host)) return;
        try {
          const p = dnsPacket.decode(msg);
          const q = p.questions?.[0];
          if (p.id !== id || p.type !== "response" || !q || q.type !== type || lower(q.name) !== lower(name)) return;
          clearTimeout(timer);
          resolve(p);
        } catch {
          /* not a DNS answer: wait for one */
        }
      });
      sock.send(dnsPacket.encode({ type: "query", id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), server.port, server.host);
    });
    const rcode = (packet as { rcode?: string }).rcode ?? "NOERROR";
    if (rcode !== "NOERROR" && rcode !== "NXDOMAIN") throw new DnsError(`the DNS server answered ${rcode} for ${name}`);
    const out: DnsAnswer = { cnames: [], addresses: [], txt: [] };
    for (const a of packet.answers ?? []) {
      if (a.type === "CNAME") out.cnames.push(lower(a.data));
      else if (a.type === "A" || a.type === "AAAA") out.addresses.push(a.data);
      else if (a.type === "TXT") {
        const data = Array.isArray(a.data) ? a.data : [a.data];
        out.txt.push(data.map((d) => (typeof d === "string" ? d : Buffer.from(d).toString("utf8"))).join(""));
      }
    }
    return out;
  } finally {
    sock.close();
  }
}
