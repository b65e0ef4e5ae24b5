// The plain values the adapter exchanges with the vim25 layer: managed object references, data objects
// tagged with their vim25 type (`_type`, sent as xsi:type), and small readers that turn loosely typed
// answers (property values arrive as xsd:anyType) into numbers, strings, booleans and lists.

/** A managed object reference: vim25 addresses everything by `type` and `value` (e.g. `VirtualMachine` / `vm-42`). */
export class MoRef {
  constructor(readonly type: string, readonly value: string) {}

  toString(): string {
    return `${this.type}:${this.value}`;
  }

  equals(other: MoRef | undefined): boolean {
    return other !== undefined && other.type === this.type && other.value === this.value;
  }
}

export type VimValue = string | number | boolean | null | MoRef | VimObject | VimValue[] | undefined;

/** A vim25 data object; `_type` is its vim25 type when it must be (or was) sent as xsi:type. */
export interface VimObject {
  _type?: string;
  [field: string]: VimValue;
}

/** A data object whose polymorphic type must travel as xsi:type. */
export function typed<T extends Record<string, VimValue>>(type: string, fields: T): T & { _type: string } {
  return { _type: type, ...fields };
}

export function isObject(v: VimValue): v is VimObject {
  return typeof v === 'object' && v !== null && !(v instanceof MoRef) && !Array.isArray(v);
}

/** A list from a value that may be absent, one item, or several. */
export function arr(v: VimValue): VimValue[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

export function objects(v: VimValue): VimObject[] {
  return arr(v).filter(isObject);
}

export function str(v: VimValue, fallback = ''): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return fallback;
}

export function num(v: VimValue, fallback = 0): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return fallback;
}

export function bool(v: VimValue, fallback = false): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return fallback;
}

export function moRef(v: VimValue): MoRef | undefined {
  return v instanceof MoRef ? v : undefined;
}

/** The vim25 type of a data object (`VirtualDisk`, `VirtualVmxnet3`, …), or '' when untagged. */
export function typeOf(v: VimValue): string {
  return isObject(v) ? str(v._type) : '';
}

/** Reads `a.b.c` from nested data objects. */
export function at(v: VimValue, path: string): VimValue {
  let cur: VimValue = v;
  for (const key of path.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

// ---- the shapes the adapter reads out of property values -----------------------------------------------

export interface VirtualDiskInfo {
  key: number;
  label: string;
  capacityBytes: number;
  /** Datastore path of the descriptor, e.g. `[LocalDS_0] app/app.vmdk`. */
  fileName: string;
  datastore?: MoRef;
  /** The CBT changeId of this disk in this config (a snapshot's config names the snapshot's state). */
  changeId?: string;
  controllerKey: number;
  unitNumber?: number;
}

export interface VirtualNicInfo {
  key: number;
  label: string;
  macAddress: string;
  /** The network (standard portgroup) or the distributed portgroup key. */
  networkId: string;
}

const ETHERNET_TYPES = new Set(['VirtualE1000', 'VirtualE1000e', 'VirtualPCNet32', 'VirtualVmxnet', 'VirtualVmxnet2', 'VirtualVmxnet3', 'VirtualVmxnet3Vrdma', 'VirtualSriovEthernetCard']);

/** The disks of a `config.hardware.device` list (flat ver2 backings: what the adapter can read and recover). */
export function disksOf(devices: VimValue): VirtualDiskInfo[] {
  const out: VirtualDiskInfo[] = [];
  for (const d of objects(devices)) {
    if (typeOf(d) !== 'VirtualDisk') continue;
    const backing = d.backing;
    const capacityBytes = num(d.capacityInBytes) || num(d.capacityInKB) * 1024;
    out.push({
      key: num(d.key),
      label: str(at(d, 'deviceInfo.label'), `disk ${num(d.key)}`),
      capacityBytes,
      fileName: str(at(backing, 'fileName')),
      ...(moRef(at(backing, 'datastore')) ? { datastore: moRef(at(backing, 'datastore')) } : {}),
      ...(str(at(backing, 'changeId')) ? { changeId: str(at(backing, 'changeId')) } : {}),
      controllerKey: num(d.controllerKey),
      ...(d.unitNumber !== undefined ? { unitNumber: num(d.unitNumber) } : {}),
    });
  }
  return out.sort((a, b) => a.key - b.key);
}

/** The NICs of a `config.hardware.device` list. */
export function nicsOf(devices: VimValue): VirtualNicInfo[] {
  const out: VirtualNicInfo[] = [];
  for (const d of objects(devices)) {
    if (!ETHERNET_TYPES.has(typeOf(d))) continue;
    const backing = d.backing;
    const dvsPortgroup = str(at(backing, 'port.portgroupKey'));
    const network = moRef(at(backing, 'network'));
    out.push({
      key: num(d.key),
      label: str(at(d, 'deviceInfo.label'), `nic ${num(d.key)}`),
      macAddress: str(d.macAddress),
      networkId: dvsPortgroup || network?.value || str(at(backing, 'deviceName')),
    });
  }
  return out.sort((a, b) => a.key - b.key);
}

export interface SnapshotNode {
  snapshot: MoRef;
  vm: MoRef;
  name: string;
  createTime: string;
  quiesced: boolean;
}

/** Flattens `snapshot.rootSnapshotList` (a tree) into a list. */
export function flattenSnapshots(tree: VimValue): SnapshotNode[] {
  const out: SnapshotNode[] = [];
  const walk = (nodes: VimValue): void => {
    for (const n of objects(nodes)) {
      const snapshot = moRef(n.snapshot);
      const vm = moRef(n.vm);
      if (snapshot && vm) out.push({ snapshot, vm, name: str(n.name), createTime: str(n.createTime), quiesced: bool(n.quiesced) });
      walk(n.childSnapshotList);
    }
  };
  walk(tree);
  return out;
}
