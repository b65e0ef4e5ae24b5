// `opencdp manager start`: runs a site's manager (REST API under /v1 over HTTPS, checkpoint scheduler, SLA
// monitor) until SIGINT/SIGTERM. Logs are pino JSON lines on stdout; the address and the certificate's
// fingerprint (for clients to pin) also go to stderr as one line. The work is done by @opencdp/manager.
import { Command } from 'commander';
import { startManagerCommand } from '@opencdp/manager';

export function managerCommand(): Command {
  const manager = new Command('manager').description('the manager of a site: protection groups, checkpoints, SLA, recovery and the /v1 REST API');
  manager
    .command('start')
    .description('start the manager and serve its REST API until interrupted (appliances keep replicating when it stops)')
    .requiredOption('--data-dir <dir>', 'folder of the manager\'s state (SQLite)')
    .requiredOption('--listen <host:port>', 'address of the REST API, e.g. 127.0.0.1:9080')
    .option('--config <file>', 'JSON: {siteId, siteName, admin: {user, password}, identityFile, trustedPeersFile, appliances: [{siteId, url, token}], recoveryAddresses, peer, sessionTtlMinutes, pollIntervalMs}')
    .option('--site-id <id>', 'this site (overrides the config file; default OPENCDP_SITE_ID)')
    .option('--tls-cert <file>', 'HTTPS certificate (PEM); without it a self-signed one is made in the data dir')
    .option('--tls-key <file>', 'HTTPS private key (PEM)')
    .option('--http', 'plain HTTP instead of HTTPS, on a loopback address only')
    .option('--insecure-http', 'plain HTTP on any address (an isolated network only: passwords and tokens cross it in clear)')
    .option('--strict', 'refuse to start when the config, key or identity file is readable by others (default: warn)')
    .action(async (opts: { dataDir: string; listen: string; config?: string; siteId?: string; tlsCert?: string; tlsKey?: string; http?: boolean; insecureHttp?: boolean; strict?: boolean }) => {
      const running = await startManagerCommand({
        dataDir: opts.dataDir, listen: opts.listen, ...(opts.config ? { config: opts.config } : {}), ...(opts.siteId ? { siteId: opts.siteId } : {}),
        ...(opts.tlsCert ? { tlsCert: opts.tlsCert } : {}), ...(opts.tlsKey ? { tlsKey: opts.tlsKey } : {}), ...(opts.http ? { http: true } : {}),
        ...(opts.insecureHttp ? { insecureHttp: true } : {}), ...(opts.strict ? { strict: true } : {}),
      });
      const fingerprint = running.parts.lifecycle.tlsFingerprint;
      process.stderr.write(`opencdp: manager of ${running.siteId} at ${running.url}${fingerprint ? `; certificate SHA-256 fingerprint ${fingerprint} (clients: --fingerprint or OPENCDP_FINGERPRINT)` : ''}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void running.stop().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
  return manager;
}
