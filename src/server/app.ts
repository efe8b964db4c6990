import type { Server } from 'node:http';
import { Storage } from '../core/storage.js';
import { UserDirectory, type User } from '../core/users.js';
import { OssDialect } from '../dialects/oss/dialect.js';
import { S3Dialect } from '../dialects/s3/dialect.js';
import type { ServerConfig } from './config.js';
import { closeHttpServer, createHttpServer } from './http.js';
import { createLogger, type Logger } from './logger.js';
import { loadRootCredentials } from './root-credentials.js';

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  storage: Storage;
  logger: Logger;
  /** Stops accepting, lets in-flight requests finish (or cuts them after the grace time), closes the store. */
  close(graceMs?: number): Promise<void>;
}

/** Composition root: storage, users, dialects and the HTTP front, listening. */
export async function startServer(config: ServerConfig, print: (line: string) => void = console.log): Promise<RunningServer> {
  const logger = createLogger(config.logLevel);
  const storage = await Storage.open(config.dataDir, {
    minPartSize: config.minPartSize,
    uploadExpiryMs: config.uploadExpiryMs,
  });
  const root = await loadRootCredentials(config.dataDir);
  if (root.generated) {
    print(`Generated root credentials (stored in ${config.dataDir}/root-credentials.json):`);
    print(`  access key: ${root.accessKey}`);
    print(`  secret key: ${root.secretKey}`);
  }
  const users: User[] = [
    { id: 'root', displayName: 'root', accessKey: root.accessKey, secretKey: root.secretKey, root: true },
    ...config.users.map((user) => ({ ...user, root: false })),
  ];
  const directory = new UserDirectory(users);
  const settings = { region: config.region, domain: config.domain };
  // S3 takes whatever no other dialect claims, so it comes last.
  const dialects = [new OssDialect(storage, directory, settings), new S3Dialect(storage, directory, settings)];
  const server = createHttpServer(dialects, logger);
  await listen(server, config.host, config.port);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${hostForUrl}:${port}`;
  storage.startSweeper(config.sweepIntervalMs);
  print(`Tessera listening on ${url}`);
  return {
    url,
    host: config.host,
    port,
    storage,
    logger,
    close: async (graceMs = 10_000) => {
      await closeHttpServer(server, graceMs);
      storage.close();
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
