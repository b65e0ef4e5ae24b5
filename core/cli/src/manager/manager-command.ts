// `opencdp manager start`: runs a site's manager (REST API under /v1, checkpoint scheduler, SLA monitor)
// until SIGINT/SIGTERM. Logs are pino JSON lines on stdout. The work is done by @opencdp/manager.
import { Command } from 'commander';
import { startManagerCommand } from '@opencdp/manager';

export function managerCommand(): Command {
  const manager = new Command('manager').description('the manager of a site: protection groups, checkpoints, SLA, recovery and the /v1 REST API');
  manager
    .command('start')
    .description('start the manager and serve its REST API until interrupted (appliances keep replicating when it stops)')
    .requiredOption('--data-dir <dir>', 'folder of the manager\'s state (SQLite)')
    .requiredOption('--listen <host:port>', 'address of the REST API, e.g. 127.0.0.1:9080')
    .option('--config <file>', 'JSON: {siteId, siteName, admin: {user, password}, appliances: [{siteId, url, token}], recoveryAddresses, peer}')
    .option('--site-id <id>', 'this site (overrides the config file; default OPENCDP_SITE_ID)')
    .action(async (opts: { dataDir: string; listen: string; config?: string; siteId?: string }) => {
      const running = await startManagerCommand({ dataDir: opts.dataDir, listen: opts.listen, ...(opts.config ? { config: opts.config } : {}), ...(opts.siteId ? { siteId: opts.siteId } : {}) });
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
