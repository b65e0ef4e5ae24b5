// Typed errors for everything a user or an adapter can get wrong. Each carries a stable code and a hint
// saying what to do, so the CLI, the REST API and conformance reports can show more than a stack trace.

export class OpenCdpError extends Error {
  constructor(
    /** Stable, machine-readable code, e.g. `VOLUME_RANGE`. */
    readonly code: string,
    message: string,
    /** What the user can do about it. */
    readonly hint?: string,
  ) {
    super(hint ? `${message} (${hint})` : message);
    this.name = new.target.name;
  }
}

/** Input that fails a schema or a precondition; nothing was changed. */
export class ValidationError extends OpenCdpError {
  constructor(message: string, readonly field?: string, hint?: string) {
    super('VALIDATION', message, hint);
  }
}

export class UnknownVolumeError extends OpenCdpError {
  constructor(readonly volumeId: string, where: string) {
    super('UNKNOWN_VOLUME', `volume '${volumeId}' is not part of ${where}`, 'check the volume id against the inventory');
  }
}

export class UnknownVmError extends OpenCdpError {
  constructor(readonly vmId: string) {
    super('UNKNOWN_VM', `VM '${vmId}' does not exist`, 'check the VM id against the inventory');
  }
}

/** A write or read that reaches past the end of a volume. */
export class VolumeRangeError extends OpenCdpError {
  constructor(volumeId: string, offset: number, length: number, sizeBytes: number) {
    super('VOLUME_RANGE', `range [${offset}, ${offset + length}) is outside volume '${volumeId}' of ${sizeBytes} bytes`);
  }
}

/** A write whose offset or length is not a multiple of the volume's sector size. */
export class AlignmentError extends OpenCdpError {
  constructor(volumeId: string, offset: number, length: number, sectorSize: number) {
    super('ALIGNMENT', `write at ${offset} of ${length} bytes to volume '${volumeId}' is not aligned to its ${sectorSize}-byte sectors`);
  }
}

export class CheckpointNotFoundError extends OpenCdpError {
  constructor(readonly checkpointId: string, where: string) {
    super('CHECKPOINT_NOT_FOUND', `checkpoint '${checkpointId}' does not exist in ${where}`, 'list the checkpoints to pick an existing one');
  }
}

/** The checkpoint existed but has left the journal's history window (or was promoted for space). */
export class CheckpointTrimmedError extends OpenCdpError {
  constructor(readonly checkpointId: string, where: string) {
    super('CHECKPOINT_TRIMMED', `checkpoint '${checkpointId}' was trimmed from ${where}`, 'choose a checkpoint at or after the oldest retained one');
  }
}

/** Sequence numbers must grow: a write or marker that goes back in time is refused. */
export class SequenceError extends OpenCdpError {
  constructor(message: string) {
    super('SEQUENCE', message);
  }
}

/** The journal cannot take more data without breaking the hard limit; the sender must fall back to a bitmap. */
export class JournalFullError extends OpenCdpError {
  constructor(usedBytes: number, hardLimitBytes: number, needBytes: number) {
    super('JOURNAL_FULL', `journal holds ${usedBytes} bytes; ${needBytes} more would pass the hard limit of ${hardLimitBytes}`,
      'raise the hard limit, shorten the history, or close point-in-time images that pin old checkpoints');
  }
}

/**
 * A sync would have to trim checkpoints until less than `keepHistoryMs` of history remained (or drop
 * them all): the journal refuses, and replication pauses so that someone can enlarge the journal (S6).
 */
export class JournalHistoryFloorError extends OpenCdpError {
  constructor(readonly usedBytes: number, readonly hardLimitBytes: number, readonly needBytes: number, readonly keepHistoryMs: number) {
    super('JOURNAL_HISTORY_FLOOR', `the journal (${usedBytes} of ${hardLimitBytes} bytes used) can take ${needBytes} more bytes only by leaving less than ${Math.round(keepHistoryMs / 60_000)} minutes of checkpoints`,
      'raise the journal hard limit, or let the pause end: the sync then continues and older checkpoints are lost');
  }
}

/** Stored journal data failed verification. Names the file and byte offset of the first bad record. */
export class JournalCorruptError extends OpenCdpError {
  constructor(readonly file: string, readonly offset: number, reason: string) {
    super('JOURNAL_CORRUPT', `journal file '${file}' is damaged at offset ${offset}: ${reason}`,
      'checkpoints before the damage stay recoverable; a sync rebuilds the rest');
  }
}

/** The backing store failed (I/O error, full, gone). */
export class StorageError extends OpenCdpError {
  constructor(message: string, readonly reason: 'io' | 'full' | 'missing' | 'closed' = 'io') {
    super(reason === 'full' ? 'STORAGE_FULL' : 'STORAGE', message);
  }
}

/** An operation on an object that was closed, or whose owner is shutting down. */
export class ClosedError extends OpenCdpError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/** The adapter lacks a capability the caller needs. */
export class UnsupportedError extends OpenCdpError {
  constructor(what: string) {
    super('UNSUPPORTED', `${what} is not supported by this adapter`);
  }
}

/** Something named by id does not exist (a group, a task, a session). */
export class NotFoundError extends OpenCdpError {
  constructor(readonly kind: string, readonly id: string) {
    super('NOT_FOUND', `${kind} '${id}' does not exist`, `list the ${kind}s to pick an existing one`);
  }
}

/** The request clashes with work already under way (e.g. a second recovery operation on a group); nothing was changed. */
export class ConflictError extends OpenCdpError {
  constructor(message: string, hint?: string) {
    super('CONFLICT', message, hint);
  }
}

/** The request is valid but the object is not in a state that allows it (e.g. commit with nothing to commit); nothing was changed. */
export class InvalidStateError extends OpenCdpError {
  constructor(message: string, hint?: string) {
    super('INVALID_STATE', message, hint);
  }
}
