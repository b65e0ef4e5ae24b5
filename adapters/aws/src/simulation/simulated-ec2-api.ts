// SIMULATION of the EC2 API operations the adapter uses (the EC2 Query protocol: form-encoded requests,
// XML answers in the 2016-11-15 namespace) over SimulatedAwsState. It enforces what EC2 documents for
// them: ids that must exist (InvalidInstanceID.NotFound, InvalidSnapshot.NotFound, …), instance state
// rules (IncorrectInstanceState), snapshots used by an AMI cannot be deleted (InvalidSnapshot.InUse),
// AMIs need completed snapshots, volumes attach within their availability zone, private IPs inside the
// subnet and unused, ClientToken idempotency, and MaxResults/NextToken paging. Long lists of AWS
// behaviour are not simulated (quotas, spot, placement groups…): only what the adapter calls.
// Longer than most modules: one protocol's operations share its parsing, filtering, paging and XML helpers.
import XMLBuilder from 'fast-xml-builder';
import {
  INSTANCE_STATE_CODES, SimulatedAwsError, type SimImage, type SimInstance, type SimNic, type SimSnapshot, type SimulatedAwsState, type SimVolume,
} from './simulated-aws-state.js';
import type { SimHttpResponse } from './simulated-ebs-api.js';

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const xml = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_' });

type Params = Map<string, string>;
type Xml = Record<string, unknown>;

function bad(code: string, message: string): SimulatedAwsError {
  return new SimulatedAwsError(code, 400, message);
}

export function parseEc2Params(body: Buffer): Params {
  return new Map(new URLSearchParams(body.toString('utf8')));
}

/** `Prefix.1`, `Prefix.2`, … as strings. */
function list(p: Params, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 1; p.has(`${prefix}.${i}`); i++) out.push(p.get(`${prefix}.${i}`)!);
  return out;
}

/** `Prefix.1.*`, `Prefix.2.*`, … as sub-parameter maps. */
function members(p: Params, prefix: string): Params[] {
  const out: Params[] = [];
  for (let i = 1; ; i++) {
    const head = `${prefix}.${i}.`;
    const sub: Params = new Map();
    for (const [k, v] of p) if (k.startsWith(head)) sub.set(k.slice(head.length), v);
    if (sub.size === 0) return out;
    out.push(sub);
  }
}

function items<T>(values: readonly T[], render: (v: T) => Xml): Xml | string {
  return values.length === 0 ? '' : { item: values.map(render) };
}

function tagSet(tags: Map<string, string>): Xml | string {
  return items([...tags], ([key, value]) => ({ key, value }));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function bool(v: string | undefined, fallback: boolean): boolean {
  return v === undefined ? fallback : v === 'true';
}

function tagsFor(p: Params, resourceType: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const spec of members(p, 'TagSpecification')) {
    if (spec.get('ResourceType') !== resourceType) continue;
    for (const t of members(spec, 'Tag')) tags.set(t.get('Key') ?? '', t.get('Value') ?? '');
  }
  return tags;
}

/** Applies `Filter.N` to resources; unknown filter names are refused as EC2 does. */
function filtered<T>(p: Params, all: T[], fields: (r: T, name: string) => string[] | undefined): T[] {
  let out = all;
  for (const f of members(p, 'Filter')) {
    const name = f.get('Name') ?? '';
    const values = list(f, 'Value');
    out = out.filter((r) => {
      const have = fields(r, name);
      if (have === undefined) throw bad('InvalidParameterValue', `The filter '${name}' is invalid`);
      return have.some((h) => values.some((v) => wildcard(v).test(h)));
    });
  }
  return out;
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

function tagFields(tags: Map<string, string>, name: string): string[] | undefined {
  if (name === 'tag-key') return [...tags.keys()];
  if (name.startsWith('tag:')) return tags.has(name.slice(4)) ? [tags.get(name.slice(4))!] : [];
  return undefined;
}

/** MaxResults / NextToken paging over an already filtered list. */
function paged<T>(p: Params, all: T[], idsGiven: boolean, range: [number, number]): { page: T[]; next?: string } {
  const rawMax = p.get('MaxResults');
  if (rawMax !== undefined && idsGiven) throw bad('InvalidParameterCombination', 'The parameter MaxResults cannot be used with the ids parameter');
  const max = rawMax === undefined ? Number.POSITIVE_INFINITY : Number(rawMax);
  if (rawMax !== undefined && (!Number.isInteger(max) || max < range[0] || max > range[1])) throw bad('InvalidParameterValue', `MaxResults must be ${range[0]}–${range[1]}`);
  let from = 0;
  const token = p.get('NextToken');
  if (token !== undefined) {
    from = Number(Buffer.from(token, 'base64').toString('utf8'));
    if (!Number.isInteger(from) || from < 0) throw bad('InvalidParameterValue', 'The NextToken is not valid');
  }
  const page = all.slice(from, from + max);
  const end = from + page.length;
  return { page, ...(end < all.length ? { next: Buffer.from(String(end)).toString('base64') } : {}) };
}

function instanceOf(state: SimulatedAwsState, id: string): SimInstance {
  const i = state.instances.get(id);
  if (!i) throw bad('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
  return i;
}

function snapshotOf(state: SimulatedAwsState, id: string): SimSnapshot {
  const s = state.snapshots.get(id);
  if (!s) throw bad('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
  return s;
}

function volumeOf(state: SimulatedAwsState, id: string): SimVolume {
  const v = state.volumes.get(id);
  if (!v) throw bad('InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
  return v;
}

// ---- rendering -------------------------------------------------------------------------------

function stateXml(s: SimInstance['state']): Xml {
  return { code: INSTANCE_STATE_CODES[s], name: s };
}

function instanceXml(state: SimulatedAwsState, i: SimInstance): Xml {
  const primary = i.nics.find((n) => n.deviceIndex === 0);
  const subnet = primary ? state.subnets.get(primary.subnetId) : undefined;
  return {
    instanceId: i.id, imageId: i.imageId, instanceState: stateXml(i.state), instanceType: i.instanceType, launchTime: iso(i.launchTime),
    placement: { availabilityZone: i.availabilityZone }, ...(primary ? { subnetId: primary.subnetId, privateIpAddress: primary.privateIp } : {}),
    ...(subnet ? { vpcId: subnet.vpcId } : {}),
    ...(i.stateReason ? { stateReason: { code: i.stateReason.code, message: i.stateReason.message } } : {}),
    architecture: 'x86_64', rootDeviceType: 'ebs', rootDeviceName: i.rootDeviceName, virtualizationType: 'hvm', ...(i.clientToken ? { clientToken: i.clientToken } : {}),
    blockDeviceMapping: items(i.devices, (d) => {
      const v = state.volumes.get(d.volumeId);
      return { deviceName: d.deviceName, ebs: { volumeId: d.volumeId, status: 'attached', attachTime: iso(v?.attachment?.attachTime ?? i.launchTime), deleteOnTermination: d.deleteOnTermination } };
    }),
    networkInterfaceSet: i.state === 'terminated' ? '' : items(i.nics, (n) => nicXml(state, n)),
    groupSet: items([...new Set(i.nics.flatMap((n) => n.groups))], (g) => ({ groupId: g })),
    tagSet: tagSet(i.tags),
  };
}

function nicXml(state: SimulatedAwsState, n: SimNic): Xml {
  return {
    networkInterfaceId: n.id, subnetId: n.subnetId, vpcId: state.subnets.get(n.subnetId)?.vpcId ?? '', macAddress: n.mac, privateIpAddress: n.privateIp,
    status: 'in-use', attachment: { attachmentId: `eni-attach-${n.id.slice(4)}`, deviceIndex: n.deviceIndex, status: 'attached', deleteOnTermination: true },
    groupSet: items(n.groups, (g) => ({ groupId: g })),
  };
}

function snapshotXml(state: SimulatedAwsState, s: SimSnapshot, stateTag: 'status' | 'state'): Xml {
  return {
    snapshotId: s.id, volumeId: s.volumeId ?? 'vol-ffffffff', [stateTag]: s.state, ...(s.stateMessage ? { statusMessage: s.stateMessage } : {}),
    startTime: iso(s.startTime), progress: s.state === 'completed' ? '100%' : '0%', ownerId: state.accountId, volumeSize: s.volumeSize,
    ...(s.description ? { description: s.description } : {}), tagSet: tagSet(s.tags),
  };
}

function volumeXml(v: SimVolume): Xml {
  return {
    volumeId: v.id, size: v.size, ...(v.snapshotId ? { snapshotId: v.snapshotId } : {}), availabilityZone: v.availabilityZone, status: v.state,
    createTime: iso(v.createTime), volumeType: v.type,
    attachmentSet: v.attachment ? { item: [{ volumeId: v.id, instanceId: v.attachment.instanceId, device: v.attachment.device, status: 'attached', attachTime: iso(v.attachment.attachTime), deleteOnTermination: v.attachment.deleteOnTermination }] } : '',
    tagSet: tagSet(v.tags),
  };
}

function imageXml(state: SimulatedAwsState, m: SimImage): Xml {
  return {
    imageId: m.id, name: m.name, imageState: 'available', imageOwnerId: state.accountId, creationDate: iso(m.creationDate), rootDeviceName: m.rootDeviceName, rootDeviceType: 'ebs',
    architecture: 'x86_64', virtualizationType: 'hvm',
    blockDeviceMapping: items(m.mappings, (d) => ({ deviceName: d.deviceName, ebs: { snapshotId: d.snapshotId, volumeSize: d.volumeSize, volumeType: d.volumeType, deleteOnTermination: d.deleteOnTermination } })),
    tagSet: tagSet(m.tags),
  };
}

// ---- operations --------------------------------------------------------------------------------

export function handleEc2(state: SimulatedAwsState, action: string, p: Params, requestId: string): SimHttpResponse {
  state.tick();
  const body = operation(state, action, p);
  const doc = xml.build({ [`${action}Response`]: { '@_xmlns': NS, requestId, ...body } }) as string;
  return { status: 200, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body: `<?xml version="1.0" encoding="UTF-8"?>\n${doc}` };
}

export function ec2ErrorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${xml.build({ Response: { Errors: { Error: { Code: code, Message: message } }, RequestID: requestId } }) as string}`;
}

function operation(state: SimulatedAwsState, action: string, p: Params): Xml {
  switch (action) {
    case 'RunInstances': return runInstances(state, p);
    case 'DescribeInstances': {
      const ids = list(p, 'InstanceId');
      const all = ids.length > 0 ? ids.map((id) => instanceOf(state, id)) : [...state.instances.values()];
      const matching = filtered(p, all, (i, name) => name === 'instance-state-name' ? [i.state] : name === 'subnet-id' ? i.nics.map((n) => n.subnetId) : tagFields(i.tags, name));
      const { page, next } = paged(p, matching, ids.length > 0, [5, 1000]);
      // One reservation per instance: enough for the adapter, which flattens them.
      return { reservationSet: items(page, (i) => ({ reservationId: i.reservationId, ownerId: state.accountId, groupSet: '', instancesSet: { item: [instanceXml(state, i)] } })), ...(next ? { nextToken: next } : {}) };
    }
    case 'StartInstances':
    case 'StopInstances':
    case 'TerminateInstances': return changeStates(state, action, p);
    case 'CreateSnapshots': return createSnapshots(state, p);
    case 'CreateSnapshot': {
      const v = volumeOf(state, p.get('VolumeId') ?? '');
      return snapshotXml(state, snapshotVolume(state, v, p, tagsFor(p, 'snapshot')), 'status');
    }
    case 'DescribeSnapshots': {
      const ids = list(p, 'SnapshotId');
      const owners = list(p, 'Owner');
      if (owners.some((o) => o !== 'self' && o !== state.accountId)) return { snapshotSet: '' };
      const all = ids.length > 0 ? ids.map((id) => snapshotOf(state, id)) : [...state.snapshots.values()];
      const matching = filtered(p, all, (s, name) => name === 'status' ? [s.state] : name === 'volume-id' ? [s.volumeId ?? ''] : name === 'snapshot-id' ? [s.id] : tagFields(s.tags, name));
      const { page, next } = paged(p, matching, ids.length > 0, [5, 1000]);
      return { snapshotSet: items(page, (s) => snapshotXml(state, s, 'status')), ...(next ? { nextToken: next } : {}) };
    }
    case 'DeleteSnapshot': {
      const s = snapshotOf(state, p.get('SnapshotId') ?? '');
      const user = [...state.images.values()].find((m) => m.mappings.some((d) => d.snapshotId === s.id));
      if (user) throw bad('InvalidSnapshot.InUse', `The snapshot ${s.id} is currently in use by ${user.id}`);
      state.dropSnapshot(s);
      return { return: true };
    }
    case 'RegisterImage': return registerImage(state, p);
    case 'DeregisterImage': {
      const id = p.get('ImageId') ?? '';
      if (!state.images.delete(id)) throw bad('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
      return { return: true };
    }
    case 'DescribeImages': {
      const ids = list(p, 'ImageId');
      const all = ids.map((id) => state.images.get(id) ?? (() => { throw bad('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`); })());
      const matching = filtered(p, ids.length > 0 ? all : [...state.images.values()], (m, name) => name === 'name' ? [m.name] : tagFields(m.tags, name));
      return { imagesSet: items(matching, (m) => imageXml(state, m)) };
    }
    case 'CreateVolume': return createVolume(state, p);
    case 'AttachVolume': return attachVolume(state, p);
    case 'DetachVolume': {
      const v = volumeOf(state, p.get('VolumeId') ?? '');
      const a = v.attachment;
      if (!a) throw bad('IncorrectState', `Volume '${v.id}' is in the 'available' state.`);
      const i = state.instances.get(a.instanceId);
      if (i && a.device === i.rootDeviceName && i.state !== 'stopped' && p.get('Force') !== 'true') throw bad('OperationNotPermitted', 'The volume is the root device of a running instance');
      if (i) i.devices = i.devices.filter((d) => d.volumeId !== v.id);
      v.attachment = undefined;
      v.state = 'available';
      return { volumeId: v.id, instanceId: a.instanceId, device: a.device, status: 'detaching', attachTime: iso(a.attachTime) };
    }
    case 'DeleteVolume': {
      const v = volumeOf(state, p.get('VolumeId') ?? '');
      if (v.state !== 'available') throw bad('VolumeInUse', `Volume ${v.id} is currently attached to ${v.attachment?.instanceId ?? 'an instance'}`);
      state.dropVolume(v);
      return { return: true };
    }
    case 'DescribeVolumes': {
      const ids = list(p, 'VolumeId');
      const all = ids.length > 0 ? ids.map((id) => volumeOf(state, id)) : [...state.volumes.values()];
      const matching = filtered(p, all, (v, name) => name === 'attachment.instance-id' ? [v.attachment?.instanceId ?? ''] : name === 'status' ? [v.state] : name === 'snapshot-id' ? [v.snapshotId ?? ''] : tagFields(v.tags, name));
      const { page, next } = paged(p, matching, ids.length > 0, [5, 500]);
      return { volumeSet: items(page, volumeXml), ...(next ? { nextToken: next } : {}) };
    }
    case 'DescribeSubnets': {
      const ids = list(p, 'SubnetId');
      const all = ids.map((id) => state.subnets.get(id) ?? (() => { throw bad('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`); })());
      const matching = filtered(p, ids.length > 0 ? all : [...state.subnets.values()], (s, name) => name === 'vpc-id' ? [s.vpcId] : name === 'availability-zone' ? [s.availabilityZone] : tagFields(s.tags, name));
      return {
        subnetSet: items(matching, (s) => ({
          subnetId: s.id, vpcId: s.vpcId, cidrBlock: s.cidr, availabilityZone: s.availabilityZone, state: 'available',
          availableIpAddressCount: 2 ** (32 - Number(s.cidr.split('/')[1])) - 5, tagSet: tagSet(s.tags),
        })),
      };
    }
    case 'CreateTags': {
      const tags = members(p, 'Tag').map((t) => [t.get('Key') ?? '', t.get('Value') ?? ''] as const);
      for (const id of list(p, 'ResourceId')) {
        const r = state.instances.get(id) ?? state.volumes.get(id) ?? state.snapshots.get(id) ?? state.images.get(id) ?? state.subnets.get(id);
        if (!r) throw bad('InvalidID', `The ID '${id}' is not valid`);
        for (const [k, v] of tags) r.tags.set(k, v);
      }
      return { return: true };
    }
    default:
      throw bad('InvalidAction', `The action ${action} is not valid for this web service (simulation).`);
  }
}

function runInstances(state: SimulatedAwsState, p: Params): Xml {
  const token = p.get('ClientToken');
  if (token) {
    const same = [...state.instances.values()].filter((i) => i.clientToken === token);
    if (same.length > 0) return { reservationId: same[0].reservationId, ownerId: state.accountId, groupSet: '', instancesSet: items(same, (i) => instanceXml(state, i)) };
  }
  const image = state.images.get(p.get('ImageId') ?? '');
  if (!image) throw bad('InvalidAMIID.NotFound', `The image id '[${p.get('ImageId') ?? ''}]' does not exist`);
  const count = Number(p.get('MaxCount') ?? 1);
  if (!Number.isInteger(count) || count < 1 || Number(p.get('MinCount') ?? 1) > count) throw bad('InvalidParameterValue', 'MinCount and MaxCount must be positive and MinCount ≤ MaxCount');
  // NICs: NetworkInterface.N, or the top-level SubnetId / SecurityGroupId / PrivateIpAddress.
  const nicSpecs = members(p, 'NetworkInterface').map((n) => ({
    deviceIndex: Number(n.get('DeviceIndex') ?? 0), subnetId: n.get('SubnetId') ?? '', groups: list(n, 'SecurityGroupId'), ip: n.get('PrivateIpAddress'),
  }));
  if (nicSpecs.length === 0) nicSpecs.push({ deviceIndex: 0, subnetId: p.get('SubnetId') ?? [...state.subnets.keys()][0], groups: list(p, 'SecurityGroupId'), ip: p.get('PrivateIpAddress') });
  const subnets = nicSpecs.map((n) => state.subnets.get(n.subnetId) ?? (() => { throw bad('InvalidSubnetID.NotFound', `The subnet ID '${n.subnetId}' does not exist`); })());
  const az = subnets[0].availabilityZone;
  if (subnets.some((s) => s.availabilityZone !== az)) throw bad('InvalidParameterCombination', 'Network interfaces of one instance must be in one availability zone');
  const wantedAz = p.get('Placement.AvailabilityZone');
  if (wantedAz && wantedAz !== az) throw bad('InvalidParameterCombination', `The subnets are in ${az}, not ${wantedAz}`);
  if (new Set(nicSpecs.map((n) => n.deviceIndex)).size !== nicSpecs.length || !nicSpecs.some((n) => n.deviceIndex === 0)) throw bad('InvalidParameterValue', 'Each network interface needs its own DeviceIndex, one of them 0');
  if (count > 1 && nicSpecs.some((n) => n.ip)) throw bad('InvalidParameterCombination', 'A private IP address can be given for one instance only');
  // Block devices: the image's, with overrides by device name.
  const overrides = new Map(members(p, 'BlockDeviceMapping').map((b) => [b.get('DeviceName') ?? '', b]));
  const devices = image.mappings.map((m) => {
    const o = overrides.get(m.deviceName);
    const snapshot = snapshotOf(state, o?.get('Ebs.SnapshotId') ?? m.snapshotId);
    if (snapshot.state !== 'completed') throw bad('IncorrectState', `Snapshot ${snapshot.id} is in state ${snapshot.state}`);
    const size = Number(o?.get('Ebs.VolumeSize') ?? m.volumeSize);
    if (size < snapshot.volumeSize) throw bad('InvalidBlockDeviceMapping', `Volume of ${size} GiB is smaller than snapshot ${snapshot.id} (${snapshot.volumeSize} GiB)`);
    return { deviceName: m.deviceName, snapshot, size, type: o?.get('Ebs.VolumeType') ?? m.volumeType, deleteOnTermination: bool(o?.get('Ebs.DeleteOnTermination'), m.deleteOnTermination) };
  });
  const reservationId = state.newId('r');
  const launched: SimInstance[] = [];
  for (let n = 0; n < count; n++) {
    const nics = nicSpecs.map((spec, k) => ({ id: state.newId('eni'), subnetId: spec.subnetId, privateIp: allocateIp(state, subnets[k].cidr, spec.subnetId, spec.ip), mac: state.newMac(), groups: spec.groups, deviceIndex: spec.deviceIndex }));
    const instance: SimInstance = {
      id: state.newId('i'), reservationId, imageId: image.id, instanceType: p.get('InstanceType') ?? 'm5.large', availabilityZone: az, state: 'pending',
      nics, rootDeviceName: image.rootDeviceName, devices: [], tags: tagsFor(p, 'instance'), launchTime: state.clock.now(), ...(token ? { clientToken: token } : {}),
    };
    for (const d of devices) {
      const v: SimVolume = {
        id: state.newId('vol'), size: d.size, type: d.type, availabilityZone: az, state: 'in-use', snapshotId: d.snapshot.id, blocks: state.blocks.copy(d.snapshot.blocks),
        lineage: d.snapshot.lineage, tags: tagsFor(p, 'volume'), attachment: { instanceId: instance.id, device: d.deviceName, deleteOnTermination: d.deleteOnTermination, attachTime: state.clock.now() },
        createTime: state.clock.now(),
      };
      state.volumes.set(v.id, v);
      instance.devices.push({ deviceName: d.deviceName, volumeId: v.id, deleteOnTermination: d.deleteOnTermination });
    }
    state.instances.set(instance.id, instance);
    if (state.takeFault('launch-failure')) {
      state.transition(instance, 'pending', 'terminated', state.delays.bootMs, { code: 'Server.InternalError', message: 'Server.InternalError: Internal error on launch (simulated fault)' });
    } else state.transition(instance, 'pending', 'running', state.delays.bootMs);
    launched.push(instance);
  }
  return { reservationId, ownerId: state.accountId, groupSet: '', instancesSet: items(launched, (i) => instanceXml(state, i)) };
}

function allocateIp(state: SimulatedAwsState, cidr: string, subnetId: string, wanted: string | undefined): string {
  const [base, bitsRaw] = cidr.split('/');
  const bits = Number(bitsRaw);
  const toInt = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const toIp = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
  const first = toInt(base);
  const size = 2 ** (32 - bits);
  const used = new Set([...state.instances.values()].filter((i) => i.state !== 'terminated').flatMap((i) => i.nics.filter((n) => n.subnetId === subnetId).map((n) => n.privateIp)));
  if (wanted !== undefined) {
    const n = toInt(wanted);
    // AWS reserves the first four addresses and the last one of every subnet.
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(wanted) || n < first + 4 || n >= first + size - 1) throw bad('InvalidParameterValue', `Address ${wanted} does not fall within the subnet's address range ${cidr}`);
    if (used.has(wanted)) throw bad('InvalidIPAddress.InUse', `Address ${wanted} is in use.`);
    return wanted;
  }
  for (let n = first + 4; n < first + size - 1; n++) if (!used.has(toIp(n))) return toIp(n);
  throw bad('InsufficientFreeAddressesInSubnet', `Subnet ${subnetId} has no free addresses`);
}

function changeStates(state: SimulatedAwsState, action: string, p: Params): Xml {
  const ids = list(p, 'InstanceId');
  const instances = ids.map((id) => instanceOf(state, id));
  const changes = instances.map((i) => {
    const previous = i.state;
    if (action === 'StartInstances') {
      if (i.state === 'stopped') state.transition(i, 'pending', 'running', state.delays.bootMs);
      else if (i.state !== 'running' && i.state !== 'pending') throw bad('IncorrectInstanceState', `The instance '${i.id}' is not in a state from which it can be started.`);
    } else if (action === 'StopInstances') {
      if (i.state === 'running' || i.state === 'pending') state.transition(i, 'stopping', 'stopped', state.delays.stopMs);
      else if (i.state !== 'stopped' && i.state !== 'stopping') throw bad('IncorrectInstanceState', `The instance '${i.id}' is not in a state from which it can be stopped.`);
    } else if (i.state !== 'terminated' && i.state !== 'shutting-down') state.transition(i, 'shutting-down', 'terminated', state.delays.terminateMs);
    return { instanceId: i.id, currentState: stateXml(i.state), previousState: stateXml(previous) };
  });
  return { instancesSet: items(changes, (c) => c) };
}

function snapshotVolume(state: SimulatedAwsState, v: SimVolume, p: Params, tags: Map<string, string>): SimSnapshot {
  const s: SimSnapshot = {
    id: state.newId('snap'), volumeSize: v.size, state: 'pending', startTime: state.clock.now(), completesAt: state.clock.now() + state.delays.snapshotMs,
    // Point in time: the blocks as they are at this instant; later writes to the volume do not show.
    blocks: state.blocks.copy(v.blocks), written: new Map(), lineage: v.lineage, origin: 'ec2', volumeId: v.id,
    ...(p.get('Description') ? { description: p.get('Description')! } : {}), tags, sealed: true,
  };
  state.snapshots.set(s.id, s);
  state.tick();
  return s;
}

function createSnapshots(state: SimulatedAwsState, p: Params): Xml {
  const i = instanceOf(state, p.get('InstanceSpecification.InstanceId') ?? '');
  if (i.state === 'terminated' || i.state === 'shutting-down') throw bad('IncorrectState', `The instance '${i.id}' is ${i.state}.`);
  const excludeBoot = p.get('InstanceSpecification.ExcludeBootVolume') === 'true';
  const excluded = new Set(list(p, 'InstanceSpecification.ExcludeDataVolumeId'));
  const tags = tagsFor(p, 'snapshot');
  const copyTags = p.get('CopyTagsFromSource') === 'volume';
  // All volumes at one instant: a crash-consistent set across the instance's volumes.
  const made = i.devices
    .filter((d) => !(excludeBoot && d.deviceName === i.rootDeviceName) && !excluded.has(d.volumeId))
    .map((d) => {
      const v = volumeOf(state, d.volumeId);
      return snapshotVolume(state, v, p, new Map([...(copyTags ? v.tags : []), ...tags]));
    });
  return { snapshotSet: items(made, (s) => snapshotXml(state, s, 'state')) };
}

function registerImage(state: SimulatedAwsState, p: Params): Xml {
  const name = p.get('Name') ?? '';
  if (!/^[\w ()./'@-]{3,128}$/.test(name)) throw bad('InvalidAMIName.Malformed', `AMI name '${name}' is invalid`);
  if ([...state.images.values()].some((m) => m.name === name)) throw bad('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by another AMI`);
  const root = p.get('RootDeviceName') ?? '/dev/xvda';
  const mappings = members(p, 'BlockDeviceMapping').map((b) => {
    const snapshot = snapshotOf(state, b.get('Ebs.SnapshotId') ?? '');
    if (snapshot.state !== 'completed') throw bad('IncorrectState', `Snapshot ${snapshot.id} is in state ${snapshot.state}`);
    const size = Number(b.get('Ebs.VolumeSize') ?? snapshot.volumeSize);
    if (size < snapshot.volumeSize) throw bad('InvalidBlockDeviceMapping', `Volume of ${size} GiB is smaller than snapshot ${snapshot.id}`);
    return { deviceName: b.get('DeviceName') ?? '', snapshotId: snapshot.id, volumeSize: size, volumeType: b.get('Ebs.VolumeType') ?? 'gp3', deleteOnTermination: bool(b.get('Ebs.DeleteOnTermination'), true) };
  });
  if (!mappings.some((m) => m.deviceName === root)) throw bad('InvalidBlockDeviceMapping', `The root device ${root} has no block device mapping`);
  const image: SimImage = { id: state.newId('ami'), name, rootDeviceName: root, mappings, tags: tagsFor(p, 'image'), creationDate: state.clock.now() };
  state.images.set(image.id, image);
  return { imageId: image.id };
}

function createVolume(state: SimulatedAwsState, p: Params): Xml {
  const az = p.get('AvailabilityZone');
  if (!az || ![...state.subnets.values()].some((s) => s.availabilityZone === az)) throw bad('InvalidParameterValue', `Invalid availability zone: [${az ?? ''}]`);
  const snapshot = p.get('SnapshotId') ? snapshotOf(state, p.get('SnapshotId')!) : undefined;
  if (snapshot && snapshot.state !== 'completed') throw bad('IncorrectState', `Snapshot ${snapshot.id} is in state ${snapshot.state}`);
  const size = Number(p.get('Size') ?? snapshot?.volumeSize);
  if (!Number.isInteger(size) || size < 1 || (snapshot && size < snapshot.volumeSize)) throw bad('InvalidParameterValue', `Volume size ${p.get('Size') ?? '(none)'} is invalid`);
  const id = state.newId('vol');
  const v: SimVolume = {
    id, size, type: p.get('VolumeType') ?? 'gp3', availabilityZone: az, state: 'available', ...(snapshot ? { snapshotId: snapshot.id } : {}),
    blocks: snapshot ? state.blocks.copy(snapshot.blocks) : new Map(), lineage: snapshot?.lineage ?? id, tags: tagsFor(p, 'volume'), createTime: state.clock.now(),
  };
  state.volumes.set(id, v);
  return volumeXml(v);
}

function attachVolume(state: SimulatedAwsState, p: Params): Xml {
  const v = volumeOf(state, p.get('VolumeId') ?? '');
  const i = instanceOf(state, p.get('InstanceId') ?? '');
  const device = p.get('Device') ?? '';
  if (v.state !== 'available') throw bad('VolumeInUse', `${v.id} is already attached to an instance`);
  if (i.state !== 'running' && i.state !== 'stopped') throw bad('IncorrectInstanceState', `Instance '${i.id}' is not 'running' or 'stopped'.`);
  if (v.availabilityZone !== i.availabilityZone) throw bad('InvalidVolume.ZoneMismatch', `The volume '${v.id}' is not in the same availability zone as instance '${i.id}'`);
  if (!/^\/dev\/(sd[b-z]|xvd[b-z])$/.test(device)) throw bad('InvalidParameterValue', `Value (${device}) for parameter device is invalid.`);
  if (i.devices.some((d) => d.deviceName === device)) throw bad('InvalidParameterValue', `Attachment point ${device} is already in use`);
  v.attachment = { instanceId: i.id, device, deleteOnTermination: false, attachTime: state.clock.now() };
  v.state = 'in-use';
  i.devices.push({ deviceName: device, volumeId: v.id, deleteOnTermination: false });
  return { volumeId: v.id, instanceId: i.id, device, status: 'attached', attachTime: iso(v.attachment.attachTime), deleteOnTermination: false };
}
