// The recovery role's operations in an appliance process: the orchestrator over this appliance's journals
// and platform, a group directory kept in a file (so a restarted appliance, or one whose managers are
// both down, still knows what it recovers — R8), the protected site reached over the control link, and
// reverse protection (R2/R3) between the two appliance processes: the original site seeds the reverse
// journals' replicas from the original disks (locally), then this site protects the recovered VMs back.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { nbdVolumeFile } from '@opencdp/adapter-qemu';
import {
  ClosedError, InvalidStateError, openerWithFallback, parseProtectionGroupSettings, protectedSiteOf, RecoveryOrchestrator, RemoteApplianceControl, sparseCopy,
  type ApplianceControl, type Clock, type GroupId, type HypervisorAdapter, type ProtectedSiteControl, type RecoveryAppliance,
  type ControlTls, type RecoveryGroupDefinition, type RecoveryGroupDirectory, type RecoveryScriptRunner, type ReverseProtectionStarter, type StorageAdapter,
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
  /**
   * The protected site's appliance control; without it the protected site counts as unreachable (a disaster).
   * `linkAddress`: its site-link listener (it has the recovery role too), where reverse protection sends.
   */
  protectedPeer?: { siteId: string; controlUrl: string; token: string; linkAddress?: string };
  /** This appliance's protected role: reverse protection protects the recovered VMs from here. */
  local?: ApplianceControl;
  /** This site's identity and paired CAs: the protected site's control link is mutual TLS with them. */
  controlTls?: ControlTls;
  /** Runs the recovery plans' pre- and post-recovery scripts. */
  scripts?: RecoveryScriptRunner;
  log: JsonLog;
}

/** The group reverse protection creates for a recovered group (its journals at the original site are kept under this id). */
export function reverseGroupId(groupId: GroupId): GroupId {
  return `${groupId}-reverse`;
}

/**
 * Reverse protection between two appliance processes. (a) The original site's appliance seeds the reverse
 * group's replica volumes from the original disks — a local copy there, nothing crosses the link — and
 * says which settings the group had; it is also told the reverse group's definition, so it can recover it
 * with no manager (R8). (b) This site's protected role protects the recovered VMs to the original site's
 * link listener with `preseeded: true`: the first sync is a delta sync, only differing blocks cross.
 * A failure rejects, and the orchestrator records a failed `reverse-protection` step (the commit stands).
 */
export function siteReverseProtection(o: {
  peer: ApplianceControl;
  linkAddress: string | undefined;
  local: ApplianceControl | undefined;
  hypervisor: HypervisorAdapter;
  log: JsonLog;
}): ReverseProtectionStarter {
  return async (request) => {
    if (!o.linkAddress) throw new InvalidStateError(`reverse protection of group '${request.groupId}' needs the original site's link address`, 'set protectedPeer.linkAddress in this appliance\'s configuration');
    if (!o.local) throw new InvalidStateError(`reverse protection of group '${request.groupId}' needs this appliance's protected role`);
    if (!o.peer.seedReverseReplicas) throw new InvalidStateError(`the appliance of site '${o.peer.siteId}' cannot seed reverse replicas`);
    const groupId = reverseGroupId(request.groupId);
    const seeded = await o.peer.seedReverseReplicas({
      groupId, originalGroupId: request.groupId,
      vms: request.vms.map((vm) => ({
        sourceVmId: vm.sourceVmId, vmId: vm.recoveredVmId,
        volumes: vm.volumes.map((v) => ({ sourceVolumeId: v.sourceVolumeId, volumeId: v.recoveredVolumeId, sizeBytes: v.sizeBytes })),
      })),
    });
    const settings = parseProtectionGroupSettings({ ...(seeded.settings ?? {}), name: `${request.groupName} (reverse)`.slice(0, 80) });
    if (o.peer.defineRecoveryGroup) {
      const vms = await Promise.all(request.vms.map((vm) => o.hypervisor.getVm(vm.recoveredVmId)));
      // Best effort: without it the original site still recovers the group from what its journals know.
      await o.peer.defineRecoveryGroup({ groupId, name: settings.name, vms: vms.map((vm) => ({ id: vm.id, name: vm.name })), plan: {} })
        .catch((e: Error) => o.log('reverse-definition-failed', { groupId, message: e.message }));
    }
    await o.local.protectGroup({ groupId, settings, vmIds: request.vms.map((vm) => vm.recoveredVmId), recoveryAddress: o.linkAddress, preseeded: true });
    o.log('reverse-protection-started', { groupId, from: request.groupId, to: o.peer.siteId, seededBytes: seeded.seededBytes, vms: request.vms.map((vm) => vm.recoveredVmId) });
  };
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
  const peer = o.protectedPeer && new RemoteApplianceControl(o.protectedPeer.siteId, o.protectedPeer.controlUrl, o.protectedPeer.token, { tls: o.controlTls });
  const protectedSite = peer ? protectedSiteOf(peer, o.clock, () => `final-${o.clock.now().toString(36)}-${++finalNo}`) : UNREACHABLE_PROTECTED_SITE;
  const orchestrator = new RecoveryOrchestrator({
    clock: o.clock, hypervisor: o.hypervisor, journals: o.recoveryAppliance, groups: directory, protectedSite,
    ...(peer ? { reverseProtection: siteReverseProtection({ peer, linkAddress: o.protectedPeer?.linkAddress, local: o.local, hypervisor: o.hypervisor, log: o.log }) } : {}),
    storage: o.storage, journalRoot: 'journals', log: (event, fields) => o.log(event, fields), ...(o.scripts ? { scripts: o.scripts } : {}),
    // File restore streams the image over NBD under a private overlay where QEMU and FUSE are there, else copies it.
    fileRestore: { opener: openerWithFallback(nbdVolumeFile, sparseCopy, (event, fields) => o.log(event, fields)) },
  });
  return { orchestrator, directory };
}
