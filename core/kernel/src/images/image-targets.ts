// Checking what an image request names — group, VM, volume, checkpoint — against the recovery site's
// group definitions and journals, with the typed errors the REST API maps to statuses; shared by exports
// and NBD sessions.
import { InvalidStateError, NotFoundError, UnknownVolumeError, ValidationError } from '../errors.js';
import type { Journal, JournalVolume } from '../journal/journal.js';
import type { Checkpoint } from '../model.js';
import type { RecoveryGroupDirectory, RecoveryJournalSource } from '../recovery/recovery-platform.js';
import type { ImageTarget } from './image-api.js';

export interface ResolvedImageTarget {
  target: ImageTarget;
  journal: Journal;
  volume: JournalVolume;
  checkpoint: Checkpoint;
}

const ID_MAX = 200;

function id(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > ID_MAX) throw new ValidationError(`${field} must be a string of 1 to ${ID_MAX} characters`, field);
  return value;
}

/**
 * The journal, volume and checkpoint a request names. Unknown group: NotFoundError; a VM outside the
 * group: ValidationError; unknown volume: UnknownVolumeError; unknown or trimmed checkpoint:
 * CheckpointNotFoundError / CheckpointTrimmedError; another group's checkpoint: ValidationError.
 */
export function resolveImageTarget(groups: RecoveryGroupDirectory, journals: RecoveryJournalSource, request: ImageTarget): ResolvedImageTarget {
  if (typeof request !== 'object' || request === null) throw new ValidationError('the request must be an object', 'request');
  const target: ImageTarget = {
    groupId: id(request.groupId, 'groupId'), checkpointId: id(request.checkpointId, 'checkpointId'),
    vmId: id(request.vmId, 'vmId'), volumeId: id(request.volumeId, 'volumeId'),
  };
  const group = groups.group(target.groupId);
  if (!group) throw new NotFoundError('group', target.groupId);
  if (!group.vms.some((v) => v.id === target.vmId)) throw new ValidationError(`VM '${target.vmId}' is not in group '${target.groupId}'`, 'vmId');
  const journal = journals.journal(target.groupId, target.vmId);
  if (!journal) throw new InvalidStateError(`the recovery site has no journal for VM '${target.vmId}' of group '${target.groupId}' yet`, 'wait for the initial sync');
  const volume = journal.volumes.find((v) => v.id === target.volumeId);
  if (!volume) throw new UnknownVolumeError(target.volumeId, `VM '${target.vmId}'`);
  // CheckpointNotFoundError / CheckpointTrimmedError for anything this journal does not list.
  const checkpoint = journal.getCheckpoint(target.checkpointId);
  if (checkpoint.groupId !== target.groupId) throw new ValidationError(`checkpoint '${target.checkpointId}' belongs to group '${checkpoint.groupId}', not '${target.groupId}'`, 'checkpointId');
  return { target, journal, volume, checkpoint };
}
