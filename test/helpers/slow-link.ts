import { type Server, type Socket, connect, createServer } from "node:net";

/**
 * slowLink is a TCP relay to `port` whose answers reach the client at about `bytesPerSecond`: a slow
 * network in front of a real server (the server sees a client that reads slowly), for tests of long
 * transfers. Answers its port and how to close it.
 */
export async function slowLink(port: number, bytesPerSecond: number): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      // Read no more from the server until this chunk's share of time has passed.
      upstream.pause();
      client.write(chunk);
      setTimeout(() => upstream.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
    upstream.on("end", () => client.end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
