import type { Command } from 'commander';
import { startServer, type RunningServer } from '../server/app.js';
import { loadConfig, type ServeFlags } from '../server/config.js';
import { missingLaunchSettings } from '../server/node-flags.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the storage server (metadata in SQLite, bytes in files, under the data directory; with --metadata, metadata in PostgreSQL, shared by every node)')
    .option('--data <dir>', 'data directory (env TESSERA_DATA)', undefined)
    .option('--address <host:port>', 'listen address, port 0 for any free port (env TESSERA_ADDRESS)', undefined)
    .option('--config <file>', 'JSON config file with users and limits (env TESSERA_CONFIG)', undefined)
    .option('--log-level <level>', 'debug, info, warn, error or silent (env TESSERA_LOG_LEVEL)', undefined)
    .option('--domain <domain>', 'serve virtual-host style requests for <bucket>.<domain> (env TESSERA_DOMAIN)', undefined)
    .option('--pan-address <host:port>', 'also listen here for the 123pan API alone (env TESSERA_PAN_ADDRESS)', undefined)
    .option(
      '--metadata <url>',
      'cluster mode: metadata in PostgreSQL, postgres://USER:PASS@HOST:PORT/DB, shared by every node started with the same --metadata and --data (env TESSERA_METADATA)',
      undefined,
    )
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain after it), with --tls-key; re-read on SIGHUP (env TESSERA_TLS_CERT)', undefined)
    .option('--tls-key <file>', "the certificate's PEM private key, unencrypted (env TESSERA_TLS_KEY)", undefined)
    .action(async (flags: ServeFlags) => {
      let config;
      try {
        config = await loadConfig(flags);
      } catch (err) {
        console.error(`Error: ${(err as Error).message}`);
        process.exit(2);
      }
      // Signals are caught from the start: one that comes while the server is starting stops it once started.
      let server: RunningServer | undefined;
      let stopSignal: string | undefined;
      const stop = (signal: string) => {
        if (stopSignal) return;
        stopSignal = signal;
        if (server) shutDown(server, signal);
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      // With TLS, SIGHUP re-reads the certificate and key (a renewal); without, it stops the process as before.
      if (config.tls) process.on('SIGHUP', () => void server?.reloadTls());
      try {
        server = await startServer(config);
      } catch (err) {
        // A taken port, an unknown host, an unreadable data directory: say which, without a stack trace.
        console.error(`Error: cannot start on ${config.host}:${config.port}: ${(err as Error).message}`);
        process.exit(1);
      }
      const missing = missingLaunchSettings();
      if (missing.length > 0) {
        server.logger.warn({ missing }, 'started without these Node flags or environment settings (npm start and the tessera bin pass them); large uploads will spend more CPU in garbage collection and page faults');
      }
      if (stopSignal) shutDown(server, stopSignal);
    });
}

function shutDown(server: RunningServer, signal: string): void {
  server.logger.info({ signal }, 'shutting down');
  void server.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
