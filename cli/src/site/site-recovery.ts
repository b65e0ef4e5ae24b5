// The recovery role's operations in an appliance process: the orchestrator over this appliance's journals
// and platform, a group directory kept in a file (so a restarted appliance, or one whose managers are
// both down, still knows what it recovers — R8), and the protected site reached over the control link.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  ClosedError, protectedSiteOf, RecoveryOrchestrator, RemoteApplianceControl,
  type Clock, type GroupId, type HypervisorAdapter, type ProtectedSiteControl, type RecoveryAppliance, type RecoveryGroupDefinition,
  type RecoveryGroupDirectory, type StorageAdapter,
} from '@opencdp/core';
import { writeFileAtomic } from '../appliance/identity-files.js';
import type { JsonLog } from '../appliance/json-log.js';

/**
 * Definitions the managers handed over, kept in `file`; a group nobody defined is recovered from what its
 * journals know (VM ids as names, the default plan), so a journal is never unrecoverable for want of a manager.
 */
export class FileGroupDirectory implements RecoveryGroupDirectory {
  private constructor(private readonly file: string, private readonly defined: Map<GroupId, RecoveryGroupDefinition>, private readonly journals: RecoveryAppliance) {}

  static async open(file: string, journals: RecoveryAppliance): Promise<FileGroupDirectory> {
    let list: RecoveryGroupDefinition[] = [];
    try {
      list = JSON.parse(await fs.readFile(file, 'utf8')) as RecoveryGroupDefinition[];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return new FileGroupDirectory(file, new Map(list.map((d) => [d.groupId, d])), journals);
  }

  group(groupId: GroupId): RecoveryGroupDefinition | undefined {
    const defined = this.defined.get(groupId);
    if (defined) return defined;
    const journals = this.journals.journalsOf(groupId);
    if (journals.length === 0) return undefined;
    return { groupId, name: groupId, vms: journals.map((j) => ({ id: j.vmId, name: j.vmId })), plan: {} };
  }

  async set(definition: RecoveryGroupDefinition): Promise<void> {
    this.defined.set(definition.groupId, definition);
    await this.save();
  }

  remove(groupId: GroupId): void {
    this.defined.delete(groupId);
    void this.save();
  }

  private save(): Promise<void> {
    return writeFileAtomic(this.file, JSON.stringify([...this.defined.values()], null, 2));
  }
}

export interface SiteRecoveryOptions {
  clock: Clock;
  hypervisor: HypervisorAdapter;
  recoveryAppliance: RecoveryAppliance;
  storage: StorageAdapter;
  dataDir: string;
  /** The protected site's appliance control; without it the protected site counts as unreachable (a disaster). */
  protectedPeer?: { siteId: string; controlUrl: string; token: string };
  log: JsonLog;
}

/** Nothing can be asked of a protected site nobody configured: a failover then goes on without it. */
const UNREACHABLE_PROTECTED_SITE: ProtectedSiteControl = {
  shutdownVms: () => Promise.reject(new ClosedError('the protected site (no control link configured)')),
  finalCheckpoint: () => Promise.reject(new ClosedError('the protected site (no control link configured)')),
  stopProtection: () => Promise.reject(new ClosedError('the protected site (no control link configured)')),
  resumeProtection: () => Promise.reject(new ClosedError('the protected site (no control link configured)')),
  powerOnVms: () => Promise.reject(new ClosedError('the protected site (no control link configured)')),
};

export async function startSiteRecovery(o: SiteRecoveryOptions): Promise<{ orchestrator: RecoveryOrchestrator; directory: FileGroupDirectory }> {
  const directory = await FileGroupDirectory.open(path.join(o.dataDir, 'recovery-groups.json'), o.recoveryAppliance);
  let finalNo = 0;
  const protectedSite = o.protectedPeer
    ? protectedSiteOf(new RemoteApplianceControl(o.protectedPeer.siteId, o.protectedPeer.controlUrl, o.protectedPeer.token), o.clock, () => `final-${o.clock.now().toString(36)}-${++finalNo}`)
    : UNREACHABLE_PROTECTED_SITE;
  const orchestrator = new RecoveryOrchestrator({
    clock: o.clock, hypervisor: o.hypervisor, journals: o.recoveryAppliance, groups: directory, protectedSite,
    storage: o.storage, journalRoot: 'journals', log: (event, fields) => o.log(event, fields),
  });
  return { orchestrator, directory };
}
