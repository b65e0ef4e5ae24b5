// The replication protocol between a protected appliance (sender) and a recovery appliance (receiver),
// one conversation per protection group over the site link. Message shapes are JSON Schemas so a
// malformed or hostile frame is refused before any journal sees it.
import { ProtocolVersionError } from '../link/link-errors.js';
import { defineMessage, handshakeCodec, type HelloMeta, type MessageCodec } from '../link/message-registry.js';
export const PROTOCOL_VERSION = '1.1.0';

const id = { type: 'string', minLength: 1, maxLength: 200 } as const;
const count = { type: 'integer', minimum: 0 } as const;
const volume = {
  type: 'object', additionalProperties: false, required: ['id', 'sizeBytes', 'sectorSize'],
  properties: { id, sizeBytes: { type: 'integer', minimum: 1 }, sectorSize: { type: 'integer', minimum: 512 } },
} as const;

const SPECS = {
  /** Sender → receiver: start (or resume) a group's stream. Answered by `group-opened`. */
  openGroup: {
    type: 20, name: 'open-group', payload: 'none',
    metaSchema: {
      type: 'object', additionalProperties: false, required: ['groupId', 'vms', 'journal'],
      properties: {
        groupId: id,
        vms: { type: 'array', maxItems: 1500, items: { type: 'object', additionalProperties: false, required: ['vmId', 'volumes'], properties: { vmId: id, volumes: { type: 'array', maxItems: 64, items: volume } } } },
        journal: {
          type: 'object', additionalProperties: false, required: ['historyMs', 'hardLimitBytes', 'warningBytes'],
          properties: { historyMs: { type: 'number', exclusiveMinimum: 0 }, hardLimitBytes: { type: 'number', exclusiveMinimum: 0 }, warningBytes: { type: 'number', exclusiveMinimum: 0 } },
        },
      },
    },
  },
  /** Receiver → sender: where each VM's journal stands, so the sender resumes after it. */
  groupOpened: {
    type: 21, name: 'group-opened', payload: 'none',
    metaSchema: {
      type: 'object', additionalProperties: false, required: ['groupId', 'vms'],
      properties: {
        groupId: id,
        vms: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['vmId', 'lastSeq', 'checkpoints', 'fresh'], properties: { vmId: id, lastSeq: count, checkpoints: count, fresh: { type: 'boolean' } } } },
      },
    },
  },
  /** Sender → receiver: sequenced writes; the payload is their data back to back, lz4-compressed when `compressed`. */
  writes: {
    type: 22, name: 'writes', payload: 'required',
    metaSchema: {
      type: 'object', additionalProperties: false, required: ['groupId', 'compressed', 'rawBytes', 'records'],
      properties: {
        groupId: id,
        compressed: { type: 'boolean' },
        makeRoom: { enum: ['keep-history', 'drop-history'] },
        rawBytes: { type: 'integer', minimum: 1, maximum: 64 * 1024 * 1024 },
        records: {
          type: 'array', minItems: 1, maxItems: 4096,
          items: { type: 'array', minItems: 5, maxItems: 5, items: [count, id, id, count, { type: 'integer', minimum: 1 }] },
        },
      },
    },
  },
  /** Sender → receiver: a checkpoint marker after every write stamped up to `seq`. */
  checkpoint: {
    type: 23, name: 'checkpoint', payload: 'none',
    metaSchema: {
      type: 'object', additionalProperties: false, required: ['groupId', 'id', 'seq', 'timestamp', 'kind'],
      properties: { groupId: id, id, seq: count, timestamp: { type: 'number' }, kind: { enum: ['auto', 'tagged', 'vss'] }, tag: { type: 'string', maxLength: 256 } },
    },
  },
  /**
   * Receiver → sender: everything up to `durableSeq` is flushed in the journal (the sender may forget it);
   * everything up to `receivedSeq` is appended (it no longer counts against the sender's send window).
   */
  ack: {
    type: 24, name: 'ack', payload: 'none',
    metaSchema: { type: 'object', additionalProperties: false, required: ['groupId', 'durableSeq'], properties: { groupId: id, durableSeq: count, receivedSeq: count } },
  },
  /** Receiver → sender: stop streaming and record changes in the bitmap (congestion or a storage error). */
  fallback: {
    type: 25, name: 'fallback', payload: 'none',
    metaSchema: {
      type: 'object', additionalProperties: false, required: ['groupId', 'trigger'],
      properties: { groupId: id, trigger: { enum: ['RecoveryStorageCongestion', 'RecoveryOrJournalStorageError'] }, storageError: { enum: ['journal', 'recovery'] }, message: { type: 'string', maxLength: 2000 } },
    },
  },
  /** Sender → receiver: hashes of the receiver's current image of a volume range (delta sync). */
  hashRequest: {
    type: 26, name: 'hash-request', payload: 'none',
    metaSchema: {
      type: 'object', additionalProperties: false, required: ['groupId', 'requestId', 'vmId', 'volumeId', 'offset', 'length', 'blockBytes'],
      properties: { groupId: id, requestId: count, vmId: id, volumeId: id, offset: count, length: { type: 'integer', minimum: 1 }, blockBytes: { type: 'integer', minimum: 512 }, hashBytes: { enum: [8, 16] } },
    },
  },
  hashReply: {
    type: 27, name: 'hash-reply', payload: 'optional',
    metaSchema: {
      type: 'object', additionalProperties: false, required: ['groupId', 'requestId'],
      properties: { groupId: id, requestId: count, error: { type: 'string', maxLength: 2000 } },
    },
  },
  /** Sender → receiver: is the recovery storage usable again? Answered by `probe-reply`. */
  probe: {
    type: 28, name: 'probe', payload: 'none',
    metaSchema: { type: 'object', additionalProperties: false, required: ['groupId'], properties: { groupId: id, needBytes: count } },
  },
  probeReply: {
    type: 29, name: 'probe-reply', payload: 'none',
    metaSchema: { type: 'object', additionalProperties: false, required: ['groupId', 'ok'], properties: { groupId: id, ok: { type: 'boolean' }, message: { type: 'string', maxLength: 2000 } } },
  },
  /**
   * Receiver → sender: a sync cannot go on without leaving less than the history floor of checkpoints
   * in a journal (or without dropping them all): pause replication for the group's replicationPauseTime (S6).
   */
  journalFull: {
    type: 30, name: 'journal-full', payload: 'none',
    metaSchema: {
      type: 'object', additionalProperties: false, required: ['groupId', 'vmId', 'message'],
      properties: { groupId: id, vmId: id, message: { type: 'string', maxLength: 2000 } },
    },
  },
  /** Sender → receiver: a VM left the group; its journal closes (its data stays for a later preseed). */
  closeVm: {
    type: 31, name: 'close-vm', payload: 'none',
    metaSchema: { type: 'object', additionalProperties: false, required: ['groupId', 'vmId'], properties: { groupId: id, vmId: id } },
  },
} as const;

/** One write record on the wire: [seq, vmId, volumeId, offset, length]. */
export type WireRecord = [number, string, string, number, number];

export interface OpenGroupMeta {
  groupId: string;
  vms: { vmId: string; volumes: { id: string; sizeBytes: number; sectorSize: number }[] }[];
  journal: { historyMs: number; hardLimitBytes: number; warningBytes: number };
}
export interface GroupOpenedMeta {
  groupId: string;
  vms: { vmId: string; lastSeq: number; checkpoints: number; fresh: boolean }[];
}
export interface WritesMeta {
  groupId: string;
  compressed: boolean;
  /**
   * Set on a sync's writes: how far the journal may go to make room. `keep-history`: trim only while the
   * history floor (ten minutes) remains, else ask for a pause; `drop-history`: after the pause, anything.
   */
  makeRoom?: 'keep-history' | 'drop-history';
  rawBytes: number;
  records: WireRecord[];
}
export interface CheckpointMeta {
  groupId: string;
  id: string;
  seq: number;
  timestamp: number;
  kind: 'auto' | 'tagged' | 'vss';
  tag?: string;
}
export interface FallbackMeta {
  groupId: string;
  trigger: 'RecoveryStorageCongestion' | 'RecoveryOrJournalStorageError';
  storageError?: 'journal' | 'recovery';
  message?: string;
}
export interface HashRequestMeta {
  groupId: string;
  requestId: number;
  vmId: string;
  volumeId: string;
  offset: number;
  length: number;
  blockBytes: number;
  hashBytes?: 8 | 16;
}

export interface HashReplyMeta {
  groupId: string;
  requestId: number;
  error?: string;
}
export interface ProbeMeta {
  groupId: string;
  /** Also check that every journal of the group can make room for this many bytes (after a system pause). */
  needBytes?: number;
}
export interface JournalFullMeta {
  groupId: string;
  vmId: string;
  message: string;
}
export interface CloseVmMeta {
  groupId: string;
  vmId: string;
}
export interface ProbeReplyMeta {
  groupId: string;
  ok: boolean;
  message?: string;
}
export interface AckMeta {
  groupId: string;
  durableSeq: number;
  receivedSeq?: number;
}

export const replicationMessages = [
  defineMessage<'open-group', OpenGroupMeta>(SPECS.openGroup),
  defineMessage<'group-opened', GroupOpenedMeta>(SPECS.groupOpened),
  defineMessage<'writes', WritesMeta>(SPECS.writes),
  defineMessage<'checkpoint', CheckpointMeta>(SPECS.checkpoint),
  defineMessage<'ack', AckMeta>(SPECS.ack),
  defineMessage<'fallback', FallbackMeta>(SPECS.fallback),
  defineMessage<'hash-request', HashRequestMeta>(SPECS.hashRequest),
  defineMessage<'hash-reply', HashReplyMeta>(SPECS.hashReply),
  defineMessage<'probe', ProbeMeta>(SPECS.probe),
  defineMessage<'probe-reply', ProbeReplyMeta>(SPECS.probeReply),
  defineMessage<'journal-full', JournalFullMeta>(SPECS.journalFull),
  defineMessage<'close-vm', CloseVmMeta>(SPECS.closeVm),
] as const;

/** Handshake plus replication messages: what an appliance connection speaks. */
export const replicationCodec = handshakeCodec.with(replicationMessages);
export type ReplicationMessage = typeof replicationCodec extends MessageCodec<infer D> ? D : never;

/** Refuses a peer whose major protocol version differs from ours. */
export function checkHello(hello: HelloMeta): ProtocolVersionError | undefined {
  const major = (v: string): string => v.split('.')[0];
  return major(hello.protocolVersion) === major(PROTOCOL_VERSION) ? undefined : new ProtocolVersionError(PROTOCOL_VERSION, hello.protocolVersion);
}
