// What the /v1 API answers, as named JSON Schemas: registered with fastify (addSchema) and published as
// OpenAPI components, so every route documents its success and error bodies and generated clients get
// exact types. Objects are closed (additionalProperties: false): the API tests check every answer
// against these, so a field added to a view without its schema fails a test instead of drifting.
import { IMAGE_FORMAT_NAMES, protectionGroupSettingsSchema } from '@opencdp/core';
/** A JSON Schema (as plain data). */
export type Schema = Record<string, unknown>;

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const int = { type: 'integer' } as const;
const num = { type: 'number' } as const;
const bool = { type: 'boolean' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;
const ref = (id: string): Schema => ({ $ref: `${id}#` });
const arrayOf = (items: Schema): Schema => ({ type: 'array', items });

/** A closed object whose listed properties are all required unless named in `optional`. */
export function closed(properties: Record<string, unknown>, optional: string[] = []): Schema {
  return { type: 'object', additionalProperties: false, properties, required: Object.keys(properties).filter((k) => !optional.includes(k)) };
}

const { $id: _settingsId, ...settingsSchema } = protectionGroupSettingsSchema;
const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

/** The fields of a live NBD session (images/image-views.ts): the ImageSession component and the serve route's answer share them. */
export const imageSessionProperties = {
  sessionIdentifier: str, vpgIdentifier: str, checkpointIdentifier: str, checkpointTimeStamp: time, vmIdentifier: str, volumeIdentifier: str,
  sizeInBytes: int, nbdUri: { type: 'string', description: 'nbd+unix:///<export>?socket=<path>, as qemu-img and qemu-nbd take it' }, exportName: str, socketPath: str,
  idleTimeoutInSec: int, started: time, lastActivity: time, connections: int,
} as const;

/** Every component schema, by its $id (which is also its OpenAPI component name). */
export const responseSchemas: Record<string, Schema> = {
  Error: {
    description: 'Every failure: a code, a message, the offending input field when there is one, and what to do',
    ...closed({ error: str, message: str, field: nullableStr, hint: str }, ['hint']),
  },
  Session: { description: 'A new session; the token is shown once (also in the x-zerto-session header)', ...closed({ sessionToken: str, user: str, role: { enum: ['viewer', 'operator', 'admin'] }, expiresAt: time }) },
  SessionInfo: { description: 'Whose session a token is', ...closed({ user: str, role: { enum: ['viewer', 'operator', 'admin'] }, createdAt: time, expiresAt: time }) },
  User: closed({ name: str, role: { enum: ['viewer', 'operator', 'admin'] }, createdAt: time }),
  Site: closed({ siteIdentifier: str, siteName: str, role: { enum: ['local', 'peer'] }, hostName: nullableStr, pairedAt: nullableTime, certificateFingerprint: nullableStr }),
  LocalSite: closed({
    siteIdentifier: str, siteName: str, role: { enum: ['local'] }, hostName: nullableStr, pairedAt: nullableTime, certificateFingerprint: nullableStr, url: nullableStr,
  }),
  PairingToken: { description: 'A one-time token, shown once; only its hash is kept', ...closed({ token: str, expiresAt: time }) },
  PairAnswer: closed({ siteIdentifier: str, siteName: str, secret: str }),
  PeerSyncAnswer: closed({ groups: int }),
  Vra: closed({
    vraIdentifier: str, siteIdentifier: str, recoveryRole: bool, local: bool, hostIdentifiers: { type: ['array', 'null'], items: str }, linkAddress: nullableStr, reachable: bool,
  }),
  PeerHeartbeatAnswer: closed({ siteIdentifier: str, at: int }),
  PeerConnection: closed({ siteIdentifier: str, connected: { type: ['boolean', 'null'] }, lastAnswerAt: nullableTime }),
  VirtualizationSite: closed({ siteIdentifier: str, local: bool, siteType: nullableStr }),
  InventoryVm: closed({
    vmIdentifier: str, vmName: str, hostIdentifier: str, powerState: { enum: ['on', 'off', 'suspended'] },
    volumes: arrayOf(closed({ volumeIdentifier: str, name: str, sizeInMB: num })),
    nics: arrayOf(closed({ networkIdentifier: str, mac: str, ipv4: nullableStr })),
  }),
  Host: closed({ hostIdentifier: str, hostName: str }),
  Network: closed({ networkIdentifier: str, networkName: str, isolated: bool }),
  Datastore: closed({ datastoreIdentifier: str, datastoreName: str, capacityInMB: int, freeInMB: int }),
  SiteDatastore: closed({ datastoreIdentifier: str, datastoreName: str, siteIdentifier: str, capacityInMB: int, freeInMB: int }),
  Folder: closed({ folderIdentifier: str, folderName: str, vmIdentifiers: arrayOf(str) }),
  Volume: {
    description: 'A protected volume: one row per group its VM is in',
    ...closed({
      volumeIdentifier: str, volumeName: str, sizeInMB: num, sectorSize: int, vmIdentifier: str, vmName: nullableStr, vpgIdentifier: str, vpgName: str,
      protectedSiteIdentifier: str, recoverySiteIdentifier: str, recoveryDatastoreIdentifier: nullableStr,
    }),
  },
  Lookup: closed({ value: int, name: str }),
  Vpg: {
    description: 'A protection group with its evaluated status and figures (the anchor\'s VpgApi)',
    ...closed({
      vpgIdentifier: str, vpgName: str, vmsCount: int, vmIdentifiers: arrayOf(str), priority: int, status: int, subStatus: int, statusName: str, subStatusName: str,
      statusReason: str, syncTrigger: nullableStr, health: str, lifecycle: { enum: ['active', 'deleting', 'recovered'] }, actualRPO: int, configuredRpoSeconds: num,
      checkpointIntervalMs: int,
      historyStatusApi: closed({ actualHistoryInMinutes: int, configuredHistoryInMinutes: int, earliestCheckpoint: nullableTime, status: str }),
      ioPs: num, throughputInMB: num, wanThroughputInMB: num, wanBytes: num, bitmapBytes: num, provisionedStorageInMB: num, usedStorageInMB: num,
      lastTest: { oneOf: [{ type: 'null' }, closed({ time: time, success: bool, summary: nullableStr })] },
      alertStatus: int, activeOperation: { type: ['object', 'null'] }, protectedSiteIdentifier: str, recoverySiteIdentifier: str, createdAt: time, settings: settingsSchema, recoveryPlan: { type: 'object' },
    }),
  },
  VmRow: {
    description: 'A protected VM in one of its groups',
    ...closed({
      vmIdentifier: str, vmName: nullableStr, vpgIdentifier: str, vpgName: str, status: int, subStatus: int, actualRPO: int, priority: int,
      protectedSiteIdentifier: str, recoverySiteIdentifier: str, journalUsedStorageMb: num, journalHardLimit: { type: ['integer', 'null'] },
      journalWarningThreshold: { type: ['integer', 'null'] }, journalHistoryInMinutes: int,
    }),
  },
  Checkpoint: closed({ checkpointIdentifier: str, timeStamp: time, tag: nullableStr, type: { enum: ['auto', 'tagged', 'vss'] }, seq: int }),
  CheckpointStats: closed({ earliest: { oneOf: [{ type: 'null' }, ref('Checkpoint')] }, latest: { oneOf: [{ type: 'null' }, ref('Checkpoint')] }, count: int }),
  Task: {
    description: 'A task: state 1 InProgress, 2 WaitingForUserInput, 3 Paused, 4 Failed, 5 Stopped, 6 Completed, 7 Cancelling',
    ...closed({
      taskIdentifier: str, type: str, vpgIdentifier: nullableStr,
      status: closed({ state: { type: 'integer', minimum: 1, maximum: 7 }, stateName: str, progress: { type: 'integer', minimum: 0, maximum: 100 }, step: str }),
      started: time, completed: nullableTime, error: nullableStr, initiatedBy: nullableStr, isCancellable: bool,
      result: { description: 'what the task produced (a report id, the recovered VMs, …), or null' },
    }),
  },
  Event: closed({ eventIdentifier: str, occurredOn: time, eventType: str, vpgIdentifier: nullableStr, description: str, user: nullableStr }),
  Alert: closed({
    alertIdentifier: str, vpgIdentifier: nullableStr, siteIdentifier: nullableStr, type: str, level: { enum: ['warning', 'error'] }, description: str, turnedOn: time, isDismissed: bool, cleared: nullableTime,
  }),
  Report: {
    description: 'A recovery report: the operation, its checkpoint, every step with its outcome and detail (script output included), and the recovered VMs',
    ...closed({
      reportIdentifier: str, vpgIdentifier: str, vpgName: str, recoveryType: { enum: ['FailoverTest', 'Failover', 'Move', 'Clone'] }, state: { enum: ['Success', 'Fail'] },
      checkpointIdentifier: str, checkpointTimeStamp: time, startTime: time, endTime: time, summary: nullableStr,
      steps: arrayOf(closed({ name: str, startTime: time, endTime: time, result: { enum: ['Success', 'Fail'] }, detail: nullableStr })),
      vms: arrayOf(closed({ sourceVmIdentifier: str, recoveredVmIdentifier: str, name: str, networkIdentifiers: arrayOf(str), bootGroup: nullableStr, poweredOnAt: nullableTime })),
    }),
  },
  FileEntry: closed({ path: str, type: { enum: ['file', 'directory', 'symlink', 'other'] }, sizeBytes: int }),
  ImageExport: {
    description: 'A checkpoint image exported as a disk file on the recovery appliance: its files (downloadable), bytes written and SHA-256',
    ...closed({
      exportIdentifier: str, vpgIdentifier: str, checkpointIdentifier: str, checkpointTimeStamp: time, vmIdentifier: str, volumeIdentifier: str,
      format: { enum: IMAGE_FORMAT_NAMES }, engine: { type: 'string', description: 'qemu-img or native' }, virtualSizeInBytes: int, sectorSize: int, dataBytes: int,
      file: { type: 'string', description: 'the file to open (for vmdk-flat, the descriptor)' },
      files: arrayOf(closed({ name: str, sizeInBytes: int, allocatedBytes: int, sha256 })), bytesWritten: int, sha256, started: time, completed: time,
    }),
  },
  ImageSession: { description: 'A checkpoint image served live, read-only, over NBD; its checkpoint stays pinned until the session ends', ...closed(imageSessionProperties) },
  ImageList: closed({ exports: arrayOf(ref('ImageExport')), sessions: arrayOf(ref('ImageSession')) }),
  DraftSummary: closed({ vpgSettingsIdentifier: str, vpgIdentifier: nullableStr, name: nullableStr, createdAt: time }),
};

/** Schemas of the error body, by reference. */
export const errorRef: Schema = ref('Error');
export { ref as schemaRef, arrayOf };
