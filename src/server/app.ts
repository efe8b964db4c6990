import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { openMetadata } from '../core/metadata/open.js';
import { Storage } from '../core/storage.js';
import { logScrubFinding } from './scrub-log.js';
import { TemporaryCredentials } from '../core/temporary-credentials.js';
import { Identities } from '../core/identities.js';
import { loadMasterKey } from '../core/secret-box.js';
import type { User } from '../core/users.js';
import { OssDialect } from '../dialects/oss/dialect.js';
import { PanDialect } from '../dialects/pan/dialect.js';
import { S3Dialect } from '../dialects/s3/dialect.js';
import { BUNDLE_DIR, ConsoleBundle } from './console/assets.js';
import { ConsoleRoute } from './console/route.js';
import { SignInLimiter } from './console/sign-in-limiter.js';
import { AdminRoute } from './admin-api.js';
import type { ServerConfig } from './config.js';
import { closeHttpServer, createHttpServer } from './http.js';
import { createLogger, type Logger } from './logger.js';
import { Readiness } from './readiness.js';
import { Metrics } from './metrics.js';
import { MetricsRoute } from './metrics-route.js';
import { loadRootCredentials } from './root-credentials.js';
import { loadTls } from './tls.js';

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  /** The 123pan-only listener, when `--pan-address` asked for one. */
  panUrl?: string;
  storage: Storage;
  logger: Logger;
  /**
   * Reads the TLS certificate and key again (SIGHUP) and gives them to every listener for new
   * connections; open ones, and requests in flight on them, keep theirs. A file that fails to load
   * leaves the old pair in use and is logged. False when it failed or TLS is off.
   */
  reloadTls(): Promise<boolean>;
  /** Stops accepting, lets in-flight requests finish (or cuts them after the grace time), closes the store. */
  close(graceMs?: number): Promise<void>;
}

/** Composition root: storage, users, dialects and the HTTP front, listening. */
export async function startServer(config: ServerConfig, print: (line: string) => void = console.log): Promise<RunningServer> {
  const logger = createLogger(config.logLevel);
  // Read first: a certificate that cannot serve stops the start before anything is opened.
  const tls = config.tls && (await loadTls(config.tls));
  const metadata = await openMetadata({
    dataDir: config.dataDir,
    url: config.metadataUrl,
    // The pool replaces a connection the database dropped; say so once per drop.
    onConnectionError: (err) => logger.warn({ err: err.message }, 'metadata database connection lost'),
  });
  // The master key: it seals API users' secrets and SSE-S3's keys.
  const secrets = await loadMasterKey(config.dataDir);
  const storage = await Storage.open(config.dataDir, {
    metadata,
    masterKey: secrets,
    minPartSize: config.minPartSize,
    uploadExpiryMs: config.uploadExpiryMs,
    lifecycleDayMs: config.lifecycleDayMs,
    hashThreads: config.hashThreads,
    directIo: config.directIo,
    stagingBudgetBytes: config.stagingBudgetBytes,
    stagingReclaimAfterMs: config.stagingReclaimAfterMs,
    cluster: config.cluster,
    // A GET that found a blob's bytes wrong failed (or was cut short): which blob, whose (docs/reliability.md).
    verifyGets: config.verifyGets,
    onCorruptRead: (report) => logger.error({ ...report }, 'corrupt blob: its bytes do not match their metadata; the read failed'),
  });
  const root = await loadRootCredentials(storage.shared ? { shared: metadata } : { dataDir: config.dataDir });
  if (root.generated) {
    print(`Generated root credentials (stored in ${storage.shared ? 'the database' : `${config.dataDir}/root-credentials.json`}):`);
    print(`  access key: ${root.accessKey}`);
    print(`  secret key: ${root.secretKey}`);
  }
  const fixedUsers: User[] = [
    { id: 'root', displayName: 'root', accessKey: root.accessKey, secretKey: root.secretKey, root: true },
    ...config.users.map((user) => ({ ...user, root: false })),
  ];
  // Users made through the admin API, their secrets sealed under the master key; live on every node.
  const identities = await Identities.open(metadata, secrets, fixedUsers, (err) => logger.warn({ err: err.message }, 'users and access keys'));
  if (storage.shared) identities.start(config.identityReloadMs);
  const directory = identities.directory;
  const settings = { region: config.region, domain: config.domain, allowInsecureSseC: config.allowInsecureSseC };
  const pan = new PanDialect(storage, directory, config.pan, metadata);
  // The console's sessions: one server key in the metadata store, so every node accepts every node's.
  const temporary = await TemporaryCredentials.open(metadata, directory);
  const consoleRoute = new ConsoleRoute(await ConsoleBundle.load(BUNDLE_DIR), {
    storage,
    users: directory,
    temporary,
    limiter: new SignInLimiter(),
    region: config.region,
    pan: { apps: config.pan.apps, service: () => pan.service() },
  }, config.domain);
  // The console's paths (`/-/console/…`) are no bucket's, so it is asked first. S3 takes whatever
  // no other dialect claims, so it comes last; pan claims only its header and paths.
  // Prometheus metrics at /-/metrics (docs/metrics.md): what the access log records, and gauges read when scraped.
  const metrics = new Metrics(
    {
      dataDir: config.dataDir,
      uploadTotals: () => metadata.uploadTotals(),
      engineStats: () => storage.engineStats,
      poolStats: () => metadata.poolStats(),
      backend: metadata.backend,
      nodeId: storage.shared ? storage.coordination.nodeId : undefined,
    },
    logger,
  );
  const record = metrics.record.bind(metrics);
  const dialects = [
    new MetricsRoute(metrics, config.metricsToken, config.domain),
    new AdminRoute(identities, config.domain, storage.kms),
    consoleRoute,
    pan,
    new OssDialect(storage, directory, settings, temporary),
    new S3Dialect(storage, directory, settings, temporary),
  ];
  const readiness = new Readiness(
    {
      // A query by primary key that touches the database (PostgreSQL: a pool connection and a round trip).
      metadata: () => metadata.getSetting('readiness-probe'),
      blobs: () => storage.probeBlobs(),
    },
    logger,
  );
  const httpOptions = { tls, readiness: () => readiness.check(), limits: config.slowClients, onRequest: record };
  const server = createHttpServer(dialects, logger, httpOptions);
  await listen(server, config.host, config.port);
  const url = urlOf(server, config.host, config.port);
  const port = Number(new URL(url).port);
  let panServer: Server | undefined;
  let panUrl: string | undefined;
  if (config.pan.address) {
    panServer = createHttpServer([pan], logger, httpOptions);
    await listen(panServer, config.pan.address.host, config.pan.address.port);
    panUrl = urlOf(panServer, config.pan.address.host, config.pan.address.port);
    print(`Tessera 123pan API listening on ${panUrl}`);
  }
  storage.startSweeper(config.sweepIntervalMs);
  if (config.scrubIntervalMs > 0) {
    storage.startScrub({
      intervalMs: config.scrubIntervalMs,
      rateBytesPerSecond: config.scrubRateBytesPerSecond,
      onFinding: (finding) => logScrubFinding(logger, finding),
      onDone: (summary) => logger[summary.corrupt + summary.missing > 0 ? 'error' : 'info']({ ...summary }, 'scrub done'),
    });
  }
  pan.start();
  if (tls) logger.info({ certificate: config.tls!.certFile, fingerprint: tls.fingerprint, validTo: tls.validTo }, 'TLS on: serving HTTPS');
  else logger.info({}, 'TLS off: serving plain HTTP (--tls-cert and --tls-key turn HTTPS on)');
  print(`Tessera listening on ${url}`);
  return {
    url,
    host: config.host,
    port,
    panUrl,
    storage,
    logger,
    reloadTls: async () => {
      if (!config.tls) return false;
      try {
        const fresh = await loadTls(config.tls);
        for (const listener of [server, panServer]) (listener as HttpsServer | undefined)?.setSecureContext({ cert: fresh.cert, key: fresh.key });
        logger.info({ certificate: config.tls.certFile, fingerprint: fresh.fingerprint, validTo: fresh.validTo }, 'TLS certificate reloaded');
        return true;
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'TLS certificate not reloaded: still serving the previous one');
        return false;
      }
    },
    close: async (graceMs = 10_000) => {
      await Promise.all([closeHttpServer(server, graceMs), panServer && closeHttpServer(panServer, graceMs)]);
      await pan.close();
      await identities.close();
      await storage.close();
      await metadata.close();
    },
  };
}

function urlOf(server: Server, host: string, configuredPort: number): string {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : configuredPort;
  return `${'setSecureContext' in server ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
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
