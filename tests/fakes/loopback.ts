/** Start and stop a fake HTTP server on 127.0.0.1 (tests only ever listen on loopback). */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on a free loopback port and returns it. */
export async function listenOnLoopback(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Ends held-open ("hung") responses and every connection, then closes the server. */
export async function closeServer(server: http.Server, hung: Iterable<http.ServerResponse> = []): Promise<void> {
  for (const res of hung) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
