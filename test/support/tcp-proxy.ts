import net from 'node:net';

/**
 * A TCP proxy for network-fault tests. `partition()` makes it stop forwarding in both
 * directions without closing anything (a silent partition: no RST, no FIN, bytes just stop
 * arriving); `heal()` lets the held bytes through and forwarding resumes.
 */
export interface TcpProxy {
  port: number;
  partition(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let partitioned = false;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    // Hold reading on both ends while partitioned: what is sent piles up, unanswered.
    // (After pipe(), which resumes its source.)
    if (partitioned) for (const s of pair) s.pause();
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    partition() {
      partitioned = true;
      for (const pair of pairs) for (const s of pair) s.pause();
    },
    heal() {
      partitioned = false;
      for (const pair of pairs) for (const s of pair) s.resume();
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
