import { startProxy } from './proxy.js';

/**
 * `node dist/test/helpers/proxy-process.js BACKEND_URL...`: the round-robin proxy in a process of
 * its own (startProxyProcess in proxy.ts forks it), so that a test process that blocks (spawnSync)
 * does not stall it, and its memory and CPU are its own. Prints `proxy listening on URL`. Forked,
 * it answers the parent's messages (requestsBy, setBackend, close) and exits when the parent goes.
 */
const proxy = await startProxy(process.argv.slice(2));
process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)));

interface Command {
  id: number;
  op: 'requestsBy' | 'setBackend' | 'close';
  index?: number;
  backend?: string;
}

if (process.send) {
  process.on('message', (command: Command) => {
    const reply = (result: unknown, error?: string) => process.send!({ id: command.id, result, error });
    try {
      if (command.op === 'requestsBy') reply(proxy.requestsBy());
      else if (command.op === 'setBackend') reply(proxy.setBackend(command.index!, command.backend!));
      else if (command.op === 'close') void proxy.close().then(() => reply(null));
      else reply(null, `unknown command ${String(command.op)}`);
    } catch (err) {
      reply(null, (err as Error).message);
    }
  });
  // The parent is gone: so is its proxy.
  process.on('disconnect', () => void proxy.close().then(() => process.exit(0)));
  process.send({ ready: proxy.url });
}
console.log(`proxy listening on ${proxy.url}`);
