/**
 * Child process entry: the throughput ceiling a Node.js HTTP service can reach on this machine,
 * to put keystone-ts's figures in proportion.
 *
 *   node dist/bench/ceiling-server.js express|node-http WORKERS PORT
 *
 * One GET /hello route answering a small JSON body, served the way `keystone-ts serve` serves:
 * one worker is the process itself, more are node cluster workers behind the primary. Prints
 * `ready` on stdout once every worker listens.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import express from 'express';

const BODY = JSON.stringify({ hello: 'world' });

function expressApp(): http.RequestListener {
  const app = express();
  // As src/api/http.ts configures its app, so the ceiling pays for the same framework features.
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', false);
  app.get('/hello', (_req, res) => {
    res.json({ hello: 'world' });
  });
  return app;
}

const nodeHttpHandler: http.RequestListener = (req, res) => {
  if (req.method === 'GET' && req.url === '/hello') {
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(BODY) });
    res.end(BODY);
  } else {
    res.writeHead(404).end();
  }
};

function serve(kind: string, port: number): Promise<http.Server> {
  const server = http.createServer(kind === 'express' ? expressApp() : nodeHttpHandler);
  server.keepAliveTimeout = 65_000; // as keystone-ts serve sets it
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

async function main(): Promise<void> {
  const [kind = '', workersText = '', portText = ''] = process.argv.slice(2);
  const workers = Number(workersText);
  const port = Number(portText);
  if (!['express', 'node-http'].includes(kind) || !Number.isInteger(workers) || workers < 1 || !Number.isInteger(port)) {
    throw new Error('usage: ceiling-server.js express|node-http WORKERS PORT');
  }
  if (workers > 1 && cluster.isPrimary) {
    let listening = 0;
    let stopping = false;
    cluster.on('listening', () => {
      listening += 1;
      if (listening === workers) process.stdout.write('ready\n');
    });
    cluster.on('exit', () => {
      if (!stopping) {
        process.stderr.write('a worker died; stopping\n');
        process.exit(1);
      }
    });
    process.once('SIGTERM', () => {
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    });
    for (let i = 0; i < workers; i += 1) cluster.fork();
    return;
  }
  const server = await serve(kind, port);
  if (cluster.isPrimary) process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
