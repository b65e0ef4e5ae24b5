// The `opencdp appliance` command group: `start` runs a self-driving recovery or protected appliance as a
// long-lived process (JSON log lines on stdout, clean stop on SIGTERM/SIGINT); `serve` runs one that a
// manager drives over the control link; `identity`, `export-ca`, `trust`,
// `pair-issue` and `pair-redeem` manage the link trust files that `start` reads.
import { promises as fs } from 'node:fs';
import { Command, Option } from 'commander';
import { checkPrivateFiles, ValidationError } from '@opencdp/core';
import { loadApplianceConfig, loadSiteApplianceConfig, type ApplianceRole } from './appliance-config.js';
import { startSiteAppliance } from '../site/site-appliance.js';
import { createIdentityFile, readIdentityFile, readPeerCa, trustPeer, writeFileAtomic } from './identity-files.js';
import { jsonLog, type JsonLog } from './json-log.js';
import { issuePairing, redeemPairing } from './pairing-commands.js';
import { startProtected } from './protected-process.js';
import { startRecovery } from './recovery-process.js';

/** Builds the `appliance` command group for the `opencdp` program. */
export function applianceCommand(): Command {
  const appliance = new Command('appliance').description('run a recovery or protected appliance and manage its site-link trust');

  appliance
    .command('start')
    .description('run an appliance until SIGTERM/SIGINT; logs are JSON lines on stdout')
    .addOption(new Option('--role <role>', 'which appliance to run').choices(['recovery', 'protected']).makeOptionMandatory())
    .requiredOption('--config <file>', 'the appliance configuration (JSON)')
    .option('--strict', 'refuse to start when the config or identity file is readable by others (default: warn)')
    .action(async (opts: { role: ApplianceRole; config: string; strict?: boolean }) => {
      await runAppliance(opts.role, opts.config, jsonLog(), opts.strict === true);
    });

  appliance
    .command('serve')
    .description('run an appliance that a manager drives over the control link, until SIGTERM/SIGINT; logs are JSON lines on stdout')
    .requiredOption('--config <file>', 'the appliance configuration (JSON)')
    .option('--strict', 'refuse to start when the config or identity file is readable by others (default: warn)')
    .action(async (opts: { config: string; strict?: boolean }) => {
      const log = jsonLog();
      const config = await loadSiteApplianceConfig(opts.config);
      checkSecretFiles([opts.config, config.identityFile], opts.strict === true, log);
      const running = await startSiteAppliance(config, log);
      await runUntilSignal({ stop: running.stop, failed: new Promise<never>(() => undefined) }, log);
    });

  appliance
    .command('identity')
    .description('create a site identity (CA, leaf certificate and private keys) in a new file')
    .requiredOption('--site <id>', 'the site id (lowercase letters, digits, dots, dashes)')
    .requiredOption('--out <file>', 'where to write the identity (created owner-readable only)')
    .option('--force', 'overwrite an existing file')
    .action(async (opts: { site: string; out: string; force?: boolean }) => {
      if (!opts.force && (await exists(opts.out))) throw new ValidationError(`'${opts.out}' exists already`, 'out', 'pass --force to replace it (the old identity is then lost)');
      const identity = await createIdentityFile(opts.site, opts.out);
      jsonLog()('identity-created', { siteId: identity.siteId, file: opts.out, caFingerprintSha256: identity.caFingerprintSha256 });
    });

  appliance
    .command('export-ca')
    .description('write the public part of a site identity ({siteId, caCertPem}) for another site to trust')
    .requiredOption('--identity <file>', 'the site identity file')
    .requiredOption('--out <file>', 'where to write the CA export')
    .action(async (opts: { identity: string; out: string }) => {
      const identity = await readIdentityFile(opts.identity);
      await writeFileAtomic(opts.out, `${JSON.stringify(identity.asTrustedPeer(), null, 2)}\n`);
      jsonLog()('ca-exported', { siteId: identity.siteId, file: opts.out, caFingerprintSha256: identity.caFingerprintSha256 });
    });

  appliance
    .command('trust')
    .description("trust a peer site's CA (from its identity file or a CA export) in a trusted-peers file")
    .requiredOption('--identity <file>', 'this site\'s identity file')
    .requiredOption('--peer <file>', "the peer's identity file or CA export")
    .requiredOption('--out <file>', 'the trusted-peers file to create or extend')
    .action(async (opts: { identity: string; peer: string; out: string }) => {
      const identity = await readIdentityFile(opts.identity);
      const peer = await readPeerCa(opts.peer);
      const peers = await trustPeer(identity, peer, opts.out);
      jsonLog()('peer-trusted', { siteId: identity.siteId, peerSiteId: peer.siteId, caFingerprintSha256: peers.get(peer.siteId)?.caFingerprintSha256, file: opts.out });
    });

  appliance
    .command('pair-issue')
    .description('issue a one-time pairing token and wait until the other site redeems it')
    .requiredOption('--identity <file>', 'this site\'s identity file')
    .requiredOption('--trusted-peers <file>', 'the trusted-peers file to add the paired site to')
    .option('--listen <address>', 'where the pairing endpoint listens', '127.0.0.1:0')
    .option('--advertise <address>', 'the address written into the token (default: the listening address)')
    .option('--ttl-seconds <n>', 'how long the token is valid', (v) => positiveNumber(v, 'ttl-seconds'), 600)
    .action(async (opts: { identity: string; trustedPeers: string; listen: string; advertise?: string; ttlSeconds: number }) => {
      await issuePairing({ identityFile: opts.identity, trustedPeersFile: opts.trustedPeers, listen: opts.listen, ...(opts.advertise ? { advertise: opts.advertise } : {}), ttlMs: opts.ttlSeconds * 1000, log: jsonLog() });
    });

  appliance
    .command('pair-redeem')
    .description('redeem a pairing token issued by the other site')
    .requiredOption('--identity <file>', 'this site\'s identity file')
    .requiredOption('--trusted-peers <file>', 'the trusted-peers file to add the paired site to')
    .requiredOption('--token <token>', 'the token printed by pair-issue on the other site')
    .action(async (opts: { identity: string; trustedPeers: string; token: string }) => {
      await redeemPairing({ identityFile: opts.identity, trustedPeersFile: opts.trustedPeers, token: opts.token, log: jsonLog() });
    });

  return appliance;
}

/**
 * Starts the appliance of `role` and keeps it running until SIGTERM or SIGINT (a second signal exits at
 * once). Resolves after a clean stop; a fatal error stops the appliance and rejects.
 */
export async function runAppliance(role: ApplianceRole, configFile: string, log: JsonLog, strict = false): Promise<void> {
  const config = await loadApplianceConfig(configFile, role);
  checkSecretFiles([configFile, config.identityFile], strict, log);
  await runUntilSignal(config.role === 'recovery'
    ? { ...(await startRecovery(config, log)), failed: new Promise<never>(() => undefined) }
    : await startProtected(config, log), log);
}

/**
 * Keeps a started service running until SIGTERM or SIGINT (a second signal exits at once). Resolves after
 * a clean stop; a fatal error (`failed` rejects) stops the service and rejects.
 */
export async function runUntilSignal(running: { stop(): Promise<void>; failed: Promise<never> }, log: JsonLog): Promise<void> {
  let stopping = false;
  let signalled: (signal: string) => void = () => undefined;
  const signal = new Promise<string>((resolve) => (signalled = resolve));
  const onSignal = (name: NodeJS.Signals): void => {
    if (stopping) {
      log('forced-exit', { signal: name });
      process.exit(130);
    }
    signalled(name);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const name = await Promise.race([signal, running.failed]);
    stopping = true;
    log('signal', { signal: name });
    await running.stop();
  } catch (e) {
    stopping = true;
    log('fatal', { message: (e as Error).message });
    await running.stop().catch(() => undefined);
    throw e;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/** The config (control token) and the identity (private keys): warned about when others may read them, refused with --strict. */
function checkSecretFiles(files: string[], strict: boolean, log: JsonLog): void {
  checkPrivateFiles(files, { strict, warn: (message) => log('file-permissions', { message }) });
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

function positiveNumber(value: string, field: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new ValidationError(`--${field} must be a positive number, got '${value}'`, field);
  return n;
}
