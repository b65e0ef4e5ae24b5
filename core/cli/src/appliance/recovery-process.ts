// The recovery role of `opencdp appliance start`: a RecoveryAppliance over the mutual-TLS site link,
// journaling into local files under `dataDir`, or into the recovery storage of the platform the config
// names (e.g. S3). It announces its address once listening, logs sender
// connects, refusals and disconnects as JSON lines, and closes its journals on stop.
import { promises as fs } from 'node:fs';
import { LocalFileStorage, RecoveryAppliance, startPlatform, SystemClock, TlsNetwork, ValidationError, type StartedPlatform } from '@opencdp/core';
import type { RecoveryConfig } from './appliance-config.js';
import { readIdentityFile, readTrustedPeersFile } from './identity-files.js';
import type { JsonLog } from './json-log.js';

export interface RunningRecovery {
  address: string;
  appliance: RecoveryAppliance;
  /** Closes the listener, the sender connections and every journal. */
  stop(): Promise<void>;
}

/** Link events renamed for operators; the raw event is logged as well (under its own name). */
const LINK_EVENTS: Record<string, string> = {
  'link.accepted': 'sender-connected',
  'link.peer-refused': 'sender-refused',
  'link.tls-refused': 'sender-refused',
  'link.refused': 'sender-refused',
};

export async function startRecovery(config: RecoveryConfig, log: JsonLog): Promise<RunningRecovery> {
  const identity = await readIdentityFile(config.identityFile);
  if (identity.siteId !== config.siteId) {
    throw new ValidationError(`identity file '${config.identityFile}' is site '${identity.siteId}', the configuration says '${config.siteId}'`, 'siteId');
  }
  const trustedPeers = await readTrustedPeersFile(config.trustedPeersFile);
  // Journals and replica volumes are copies of guest disks: the folder is the owner's only.
  await fs.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const clock = new SystemClock();
  const network = new TlsNetwork({
    identity, trustedPeers, clock,
    log: (event, fields) => {
      log(event, fields);
      const alias = LINK_EVENTS[event];
      if (alias) log(alias, fields);
    },
  });
  const platform: StartedPlatform | undefined = config.platform
    ? await startPlatform(config.platform, { roles: ['recovery'], siteId: config.siteId, clock, log: (e, f) => log(`platform.${e}`, f), applianceDataDir: config.dataDir })
    : undefined;
  const storage = platform?.instance.recoveryStorage ?? new LocalFileStorage(config.dataDir);
  const appliance = new RecoveryAppliance({
    siteId: config.siteId, storage, clock, network,
    ...(config.bufferBytes !== undefined ? { bufferBytes: config.bufferBytes } : {}),
    log: (event, fields) => log(event, fields),
  });
  let address: string;
  try {
    address = await appliance.listen(config.listen);
  } catch (e) {
    await platform?.instance.dispose();
    throw e;
  }
  log('listening', { address, siteId: config.siteId, storage: storage.kind, trustedPeers: trustedPeers.list().map((p) => p.siteId) });
  let stopping: Promise<void> | undefined;
  return {
    address,
    appliance,
    stop: () => (stopping ??= (async () => {
      log('stopping', { connections: appliance.connections });
      await appliance.stop();
      await platform?.instance.dispose();
      log('stopped', {});
    })()),
  };
}
