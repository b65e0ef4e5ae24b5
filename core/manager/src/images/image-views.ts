// How checkpoint image exports and sessions look in the REST API (ids as `…Identifier`, times as ISO
// strings): the routes answer with these, and an export task's result is one.
import type { ImageExportReport, ImageSessionInfo } from '@opencdp/core';

type Json = Record<string, unknown>;
const iso = (t: number): string => new Date(t).toISOString();

export function imageExportView(r: ImageExportReport): Json {
  return {
    exportIdentifier: r.id, vpgIdentifier: r.groupId, checkpointIdentifier: r.checkpointId, checkpointTimeStamp: iso(r.checkpointTimestamp),
    vmIdentifier: r.vmId, volumeIdentifier: r.volumeId, format: r.format, engine: r.engine, virtualSizeInBytes: r.virtualSizeBytes, sectorSize: r.sectorSize,
    dataBytes: r.dataBytes, file: r.file, files: r.files.map((f) => ({ name: f.name, sizeInBytes: f.sizeBytes, allocatedBytes: f.allocatedBytes, sha256: f.sha256 })),
    bytesWritten: r.bytesWritten, sha256: r.sha256, started: iso(r.startedAt), completed: iso(r.endedAt),
  };
}

export function imageSessionView(s: ImageSessionInfo): Json {
  return {
    sessionIdentifier: s.id, vpgIdentifier: s.groupId, checkpointIdentifier: s.checkpointId, checkpointTimeStamp: iso(s.checkpointTimestamp),
    vmIdentifier: s.vmId, volumeIdentifier: s.volumeId, sizeInBytes: s.sizeBytes, nbdUri: s.uri, exportName: s.exportName, socketPath: s.socketPath,
    idleTimeoutInSec: s.idleTimeoutSec, started: iso(s.startedAt), lastActivity: iso(s.lastActivityAt), connections: s.connections,
  };
}

