import { Aedes, type AedesOptions } from 'aedes';
import { createServer, type AddressInfo, type Server } from 'node:net';

export interface EmbeddedBrokerHarness {
  readonly broker: Aedes;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * An aedes broker on 127.0.0.1 and a free port, with whatever hooks the test passes
 * (authenticate, authorizePublish, ...). For tests of clients against a real broker without
 * the whole control plane.
 */
export async function startEmbeddedBroker(
  options: AedesOptions = {},
): Promise<EmbeddedBrokerHarness> {
  const broker = await Aedes.createBroker(options);
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    broker,
    port,
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
