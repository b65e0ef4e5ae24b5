#!/usr/bin/env node
// The `opencdp` command. Host entry point: the only place (with other binaries) that loads reflect-metadata.
import 'reflect-metadata';
import { Command } from 'commander';
import { runJournalDemo } from './demo/journal-demo.js';
import { runBenchmark } from './bench/benchmark.js';
import './bench/bitmap-bench.js';
import './bench/delta-sync-bench.js';
import { applianceCommand } from './appliance/appliance-command.js';
import { operatorCommands } from './client/verbs.js';

const program = new Command('opencdp').description('OpenCDP: continuous data protection for any hypervisor').version('0.1.0');

program
  .command('demo')
  .description('protect a three-VM application on the embedded default (fake data centre, local files) and recover its database from a checkpoint')
  .option('--data-dir <dir>', 'where journals are kept (default: a temporary folder, removed afterwards)')
  .option('--keep', 'keep the temporary data folder')
  .option('--json', 'print a machine-readable summary instead of progress lines')
  .action(async (opts: { dataDir?: string; keep?: boolean; json?: boolean }) => {
    const summary = await runJournalDemo({ dataDir: opts.dataDir, keep: opts.keep, log: opts.json ? () => undefined : undefined });
    if (opts.json) console.log(JSON.stringify(summary, null, 2));
    else console.log(`done in ${(summary.wallMs / 1000).toFixed(1)} s wall time (${summary.virtualSeconds} s of virtual time)`);
    if (!summary.recovered.match || !summary.latestMatchesCorrupted) process.exitCode = 1;
  });

program
  .command('bench <name>')
  .description('run a benchmark against its baseline on this machine (journal, replication, delta-sync, bitmap)')
  .option('--json <file>', 'write the result as JSON')
  .option('--scale <factor>', 'shrink or grow every size (1 = the documented run)', parseFloat)
  .option('--dir <dir>', 'folder on the disk to measure (default: the system temp folder)')
  .action(async (name: string, opts: { json?: string; scale?: number; dir?: string }) => {
    await runBenchmark(name, opts);
  });

program.addCommand(applianceCommand());
for (const command of operatorCommands()) program.addCommand(command);

program.parseAsync(process.argv).catch((e: Error) => {
  console.error(`opencdp: ${e.message}`);
  process.exit(1);
});
