#!/usr/bin/env node
// The `opencdp` command. Host entry point: the only place (with other binaries) that loads reflect-metadata.
// Everything it creates (journals, replica volumes, databases, identities, configs, status files) is the
// owner's only: the umask is set before anything else runs. Usage errors exit 2, as the README's table says.
import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { ValidationError } from '@opencdp/core';
import { runJournalDemo } from './demo/journal-demo.js';
import { runTwoSiteDemo } from './demo/two-site-demo.js';
import { runBenchmark } from './bench/benchmark.js';
import './bench/bitmap-bench.js';
import './bench/change-tracking-bench.js';
import './bench/delta-sync-bench.js';
import './bench/journal-bench.js';
import './bench/qemu-splitter-bench.js';
import './bench/vhdx-bench.js';
import './bench/image-export-bench.js';
import './bench/replication-bench.js';
import './bench/vsphere-cycle-bench.js';
import './bench/s3-journal-bench.js';
import './bench/ebs-failover-bench.js';
import './bench/scale-bench.js';
import { applianceCommand } from './appliance/appliance-command.js';
import { managerCommand } from './manager/manager-command.js';
import { operatorCommands } from './client/verbs.js';
import { imageCommand } from './client/image-verbs.js';

process.umask(0o077);

const program = new Command('opencdp').description('OpenCDP: continuous data protection for any hypervisor').version('0.1.0');
program.exitOverride();

program
  .command('demo')
  .description('two sites on loopback in four processes (embedded default: fake data centre, local files): protect a three-VM application, lose the protected manager for a while, suffer ransomware, fail over to the checkpoint before it, verify by hash')
  .option('--data-dir <dir>', 'where both sites keep their files (default: a temporary folder, removed afterwards)')
  .option('--keep', 'keep the temporary folder')
  .option('--json', 'print a machine-readable summary instead of progress lines')
  .option('--in-process', 'the quick single-process journal demo instead (local replication, no managers)')
  .addOption(new Option('--platform <name>', 'the platform both sites run on: the embedded fake data centre, or real Linux guests under qemu-system-x86_64 (TCG when KVM is unusable)').choices(['fake', 'qemu']).default('fake'))
  .addOption(new Option('--capture <mode>', 'how site A\'s platform captures writes: splitter (a write tap) or change-tracking (frozen views, as vSphere, Hyper-V or EBS offer)').choices(['splitter', 'change-tracking']))
  .addOption(new Option('--recover-on <platform>', 'cross-platform recovery: site B recovers the fake data centre\'s VMs on another platform (vsphere: a vCenter simulator, vcsim, that the demo starts)').choices(['vsphere']))
  .action(async (opts: { dataDir?: string; keep?: boolean; json?: boolean; inProcess?: boolean; platform: 'fake' | 'qemu'; capture?: 'splitter' | 'change-tracking'; recoverOn?: 'vsphere' }) => {
    if (opts.inProcess) {
      const summary = await runJournalDemo({ dataDir: opts.dataDir, keep: opts.keep, log: opts.json ? () => undefined : undefined });
      if (opts.json) console.log(JSON.stringify(summary, null, 2));
      else console.log(`done in ${(summary.wallMs / 1000).toFixed(1)} s wall time (${summary.virtualSeconds} s of virtual time)`);
      if (!summary.recovered.match || !summary.latestMatchesCorrupted) process.exitCode = 1;
      return;
    }
    const summary = await runTwoSiteDemo({
      platform: opts.platform, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), ...(opts.keep ? { keep: true } : {}), ...(opts.json ? { log: () => undefined } : {}),
      ...(opts.capture ? { capture: opts.capture } : {}), ...(opts.recoverOn ? { recoverOn: opts.recoverOn } : {}),
    });
    if (opts.json) console.log(JSON.stringify(summary, null, 2));
    else console.log(`${summary.ok ? 'demo passed' : 'DEMO FAILED'} in ${(summary.wallMs / 1000).toFixed(1)} s`);
    if (!summary.ok) process.exitCode = 1;
  });

program
  .command('bench <name>')
  .description('run a benchmark against its baseline on this machine (journal, replication, delta-sync, bitmap, qemu-splitter, vhdx, vsphere-cycle, s3-journal, ebs-failover, scale)')
  .option('--json <file>', 'write the result as JSON')
  .option('--scale <factor>', 'shrink or grow every size (1 = the documented run)', parseFloat)
  .option('--dir <dir>', 'folder on the disk to measure (default: the system temp folder)')
  .action(async (name: string, opts: { json?: string; scale?: number; dir?: string }) => {
    await runBenchmark(name, opts);
  });

/** Commands added whole do not inherit the program's settings: their usage errors must throw (exit 2) too. */
function throwOnUsageErrors(command: Command): Command {
  command.exitOverride();
  for (const sub of command.commands) throwOnUsageErrors(sub);
  return command;
}
program.addCommand(throwOnUsageErrors(applianceCommand()));
program.addCommand(throwOnUsageErrors(managerCommand()));
for (const command of operatorCommands()) program.addCommand(command);
program.addCommand(imageCommand());

program.parseAsync(process.argv).catch((e: Error) => {
  if (e instanceof CommanderError) {
    // Commander printed the message already; help and --version are not errors.
    process.exit(e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2);
  }
  // A configuration error names its field (e.g. platform.config.guests.0.qmp) even when its text does not.
  const field = e instanceof ValidationError ? e.field : undefined;
  console.error(`opencdp: ${field && !e.message.includes(field) ? `${field}: ` : ''}${e.message}`);
  process.exit(1);
});
