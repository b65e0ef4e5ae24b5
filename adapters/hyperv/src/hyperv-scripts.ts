// Every PowerShell operation the adapter runs against a Hyper-V host, with the JSON shape it prints and
// the ajv schema that shape must pass. Bodies project Hyper-V's objects onto plain ordered dictionaries
// (enums as their names, times in ISO-8601 UTC, sizes in bytes) so Windows PowerShell 5.1 and PowerShell 7
// print the same JSON. Inputs arrive only as `$P_<name>` variables set by the renderer (ps-script.ts).
import type { JsonSchema, PsOperation } from './powershell/ps-script.js';

// ---- result shapes -------------------------------------------------------------------------------

export interface HvDisk {
  ControllerType: string;
  ControllerNumber: number;
  ControllerLocation: number;
  Path: string;
  VhdFormat: string;
  VhdType: string;
  Size: number;
  LogicalSectorSize: number;
  ParentPath: string | null;
}

export interface HvNic {
  Id: string;
  Name: string;
  MacAddress: string;
  SwitchName: string | null;
  IPAddresses: string[];
  /** Addresses configured for the guest through the KVP exchange (re-IP), when DHCP is off. */
  StaticIPAddresses: string[];
}

export interface HvVm {
  Id: string;
  Name: string;
  State: string;
  Generation: number;
  /** Configuration version, e.g. `9.0`; RCT reference points need 8.0 or later. */
  Version: string;
  Path: string;
  Notes: string;
  IsClustered: boolean;
  ComputerName: string;
  Disks: HvDisk[];
  Nics: HvNic[];
}

export interface HvSwitch {
  Id: string;
  Name: string;
  SwitchType: string;
}

export interface HvVolume {
  Path: string;
  Size: number;
  SizeRemaining: number;
}

export interface HvInventory {
  Host: { ComputerName: string; VirtualHardDiskPath: string; VirtualMachinePath: string };
  Volumes: HvVolume[];
  Switches: HvSwitch[];
  Vms: HvVm[];
  /** Clustered VM roles (`Get-ClusterGroup`), empty without a failover cluster. */
  ClusterGroups: { Name: string; OwnerNode: string; State: string }[];
}

export interface HvCheckpoint {
  Id: string;
  Name: string;
  VMId: string;
  VMName: string;
  CreationTime: string;
  Disks: { ControllerType: string; ControllerNumber: number; ControllerLocation: number; Path: string }[];
}

export interface HvReferencePoint {
  InstanceID: string;
  VirtualSystemIdentifier: string;
  ConsistencyLevel: number;
  Disks: { VirtualDiskIdentifier: string; ResilientChangeTrackingIdentifier: string; Path: string }[];
}

export interface HvDiskChanges {
  ProcessedByteLength: number;
  ChangedByteOffsets: number[];
  ChangedByteLengths: number[];
}

// ---- schemas -------------------------------------------------------------------------------------

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const strOrNull = { type: ['string', 'null'] } as const;
const strList = { type: 'array', items: str } as const;

function obj(properties: Record<string, unknown>): JsonSchema {
  return { type: 'object', required: Object.keys(properties), properties };
}

const DISK = obj({ ControllerType: str, ControllerNumber: int, ControllerLocation: int, Path: str, VhdFormat: str, VhdType: str, Size: int, LogicalSectorSize: int, ParentPath: strOrNull });
const NIC = obj({ Id: str, Name: str, MacAddress: str, SwitchName: strOrNull, IPAddresses: strList, StaticIPAddresses: strList });
export const VM_SCHEMA = obj({
  Id: str, Name: str, State: str, Generation: int, Version: str, Path: str, Notes: str, IsClustered: { type: 'boolean' }, ComputerName: str,
  Disks: { type: 'array', items: DISK }, Nics: { type: 'array', items: NIC },
});
const CHECKPOINT = obj({
  Id: str, Name: str, VMId: str, VMName: str, CreationTime: str,
  Disks: { type: 'array', items: obj({ ControllerType: str, ControllerNumber: int, ControllerLocation: int, Path: str }) },
});
const REFERENCE_POINT = obj({
  InstanceID: str, VirtualSystemIdentifier: str, ConsistencyLevel: int,
  Disks: { type: 'array', items: obj({ VirtualDiskIdentifier: str, ResilientChangeTrackingIdentifier: str, Path: str }) },
});

// ---- shared PowerShell -----------------------------------------------------------------------------

/** Projects a VM (and its disks and NICs) onto the HvVm shape. Defined inside each body that needs it. */
const VM_PROJECTION = `function ConvertTo-OpenCdpVm($Vm) {
  $ns = 'root/virtualization/v2'
  $disks = @(Get-VMHardDiskDrive -VM $Vm | ForEach-Object {
    $drive = $_
    $vhd = if ($drive.Path) { Get-VHD -Path $drive.Path } else { $null }
    [ordered]@{
      ControllerType = [string]$drive.ControllerType; ControllerNumber = [int]$drive.ControllerNumber; ControllerLocation = [int]$drive.ControllerLocation
      Path = [string]$drive.Path; VhdFormat = [string]$vhd.VhdFormat; VhdType = [string]$vhd.VhdType; Size = [int64]$vhd.Size
      LogicalSectorSize = [int]$vhd.LogicalSectorSize; ParentPath = if ($vhd.ParentPath) { [string]$vhd.ParentPath } else { $null }
    }
  })
  $nics = @(Get-VMNetworkAdapter -VM $Vm | ForEach-Object {
    $adapter = $_
    $port = Get-CimInstance -Namespace $ns -ClassName Msvm_SyntheticEthernetPortSettingData | Where-Object { $_.InstanceID -eq $adapter.Id }
    $config = if ($port) { Get-CimAssociatedInstance -InputObject $port -ResultClassName Msvm_GuestNetworkAdapterConfiguration } else { $null }
    $static = if ($config -and -not $config.DHCPEnabled) { @($config.IPAddresses | Where-Object { $_ }) } else { @() }
    [ordered]@{
      Id = [string]$adapter.Id; Name = [string]$adapter.Name; MacAddress = [string]$adapter.MacAddress
      SwitchName = if ($adapter.SwitchName) { [string]$adapter.SwitchName } else { $null }
      IPAddresses = @($adapter.IPAddresses | ForEach-Object { [string]$_ }); StaticIPAddresses = @($static | ForEach-Object { [string]$_ })
    }
  })
  [ordered]@{
    Id = [string]$Vm.Id; Name = [string]$Vm.Name; State = [string]$Vm.State; Generation = [int]$Vm.Generation; Version = [string]$Vm.Version
    Path = [string]$Vm.Path; Notes = [string]$Vm.Notes; IsClustered = [bool]$Vm.IsClustered; ComputerName = [string]$Vm.ComputerName
    Disks = $disks; Nics = $nics
  }
}`;

const CHECKPOINT_PROJECTION = `function ConvertTo-OpenCdpCheckpoint($Snapshot) {
  [ordered]@{
    Id = [string]$Snapshot.Id; Name = [string]$Snapshot.Name; VMId = [string]$Snapshot.VMId; VMName = [string]$Snapshot.VMName
    CreationTime = $Snapshot.CreationTime.ToUniversalTime().ToString('o')
    Disks = @(Get-VMHardDiskDrive -VMSnapshot $Snapshot | ForEach-Object {
      [ordered]@{ ControllerType = [string]$_.ControllerType; ControllerNumber = [int]$_.ControllerNumber; ControllerLocation = [int]$_.ControllerLocation; Path = [string]$_.Path }
    })
  }
}`;

const REFERENCE_POINT_PROJECTION = `function ConvertTo-OpenCdpReferencePoint($Point) {
  $ns = 'root/virtualization/v2'
  $disks = for ($i = 0; $i -lt @($Point.VirtualDiskIdentifiers).Count; $i++) {
    $diskId = @($Point.VirtualDiskIdentifiers)[$i]
    $setting = Get-CimInstance -Namespace $ns -ClassName Msvm_StorageAllocationSettingData | Where-Object { $_.InstanceID -eq $diskId }
    [ordered]@{ VirtualDiskIdentifier = [string]$diskId; ResilientChangeTrackingIdentifier = [string]@($Point.ResilientChangeTrackingIdentifiers)[$i]; Path = [string]@($setting.HostResource)[0] }
  }
  [ordered]@{ InstanceID = [string]$Point.InstanceID; VirtualSystemIdentifier = [string]$Point.VirtualSystemIdentifier; ConsistencyLevel = [int]$Point.ConsistencyLevel; Disks = @($disks) }
}`;

/** CIM settings passed to a method are embedded instances: serialised the way the CIM cmdlets would. */
const SERIALIZE = `function ConvertTo-OpenCdpEmbeddedInstance($Instance) {
  $serializer = [Microsoft.Management.Infrastructure.Serialization.CimSerializer]::Create()
  $bytes = $serializer.Serialize($Instance, [Microsoft.Management.Infrastructure.Serialization.InstanceSerializationOptions]::None)
  [System.Text.Encoding]::Unicode.GetString($bytes)
}`;

function op<T>(o: Omit<PsOperation<T>, '__type'>): PsOperation<T> {
  return o;
}

// ---- inventory -----------------------------------------------------------------------------------

export const GET_INVENTORY = op<HvInventory>({
  name: 'Get-OpenCdpInventory',
  params: ['storagePaths'],
  result: 'object',
  schema: obj({
    Host: obj({ ComputerName: str, VirtualHardDiskPath: str, VirtualMachinePath: str }),
    Volumes: { type: 'array', items: obj({ Path: str, Size: int, SizeRemaining: int }) },
    Switches: { type: 'array', items: obj({ Id: str, Name: str, SwitchType: str }) },
    Vms: { type: 'array', items: VM_SCHEMA },
    ClusterGroups: { type: 'array', items: obj({ Name: str, OwnerNode: str, State: str }) },
  }),
  body: `${VM_PROJECTION}
$vmHost = Get-VMHost
$volumes = @(foreach ($path in @($P_storagePaths)) {
  $volume = Get-Volume -FilePath $path
  [ordered]@{ Path = [string]$path; Size = [int64]$volume.Size; SizeRemaining = [int64]$volume.SizeRemaining }
})
$switches = @(Get-VMSwitch | ForEach-Object { [ordered]@{ Id = [string]$_.Id; Name = [string]$_.Name; SwitchType = [string]$_.SwitchType } })
$vms = @(Get-VM | ForEach-Object { ConvertTo-OpenCdpVm $_ })
$groups = @()
if (Get-Command -Name Get-ClusterGroup -ErrorAction SilentlyContinue) {
  try {
    $groups = @(Get-ClusterGroup | Where-Object { [string]$_.GroupType -eq 'VirtualMachine' } | ForEach-Object {
      [ordered]@{ Name = [string]$_.Name; OwnerNode = [string]$_.OwnerNode; State = [string]$_.State }
    })
  } catch {
    $groups = @()
  }
}
[ordered]@{
  Host = [ordered]@{ ComputerName = [string]$vmHost.ComputerName; VirtualHardDiskPath = [string]$vmHost.VirtualHardDiskPath; VirtualMachinePath = [string]$vmHost.VirtualMachinePath }
  Volumes = $volumes; Switches = $switches; Vms = $vms; ClusterGroups = $groups
}`,
});

export const GET_HOST = op<{ ComputerName: string; Switches: HvSwitch[] }>({
  name: 'Get-OpenCdpHost',
  params: [],
  result: 'object',
  schema: obj({ ComputerName: str, Switches: { type: 'array', items: obj({ Id: str, Name: str, SwitchType: str }) } }),
  body: `$vmHost = Get-VMHost
[ordered]@{
  ComputerName = [string]$vmHost.ComputerName
  Switches = @(Get-VMSwitch | ForEach-Object { [ordered]@{ Id = [string]$_.Id; Name = [string]$_.Name; SwitchType = [string]$_.SwitchType } })
}`,
});

export const GET_VM = op<HvVm>({
  name: 'Get-OpenCdpVm',
  params: ['vmId'],
  result: 'object',
  schema: VM_SCHEMA,
  body: `${VM_PROJECTION}
ConvertTo-OpenCdpVm (Get-VM -Id $P_vmId)`,
});

// ---- change tracking: recovery checkpoints, reference points, RCT ----------------------------------

/**
 * A recovery checkpoint (the only kind ConvertToReferencePoint accepts) taken through
 * Msvm_VirtualSystemSnapshotService.CreateSnapshot, SnapshotType 32768; ConsistencyLevel 1 asks the guest's
 * VSS for an application-consistent (production) checkpoint, 2 takes a crash-consistent one. Named after
 * it is taken; if naming fails the checkpoint is removed, so nothing is left behind.
 */
export const NEW_RECOVERY_CHECKPOINT = op<HvCheckpoint>({
  name: 'New-OpenCdpRecoveryCheckpoint',
  params: ['vmId', 'name', 'consistencyLevel'],
  result: 'object',
  schema: CHECKPOINT,
  body: `${CHECKPOINT_PROJECTION}
${SERIALIZE}
$ns = 'root/virtualization/v2'
$vm = Get-VM -Id $P_vmId
$system = Get-CimInstance -Namespace $ns -ClassName Msvm_ComputerSystem | Where-Object { $_.Name -eq $P_vmId }
$service = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemSnapshotService
$settings = New-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemSnapshotSettingData -ClientOnly -Property @{ ConsistencyLevel = [byte]$P_consistencyLevel; IgnoreNonSnapshottableDisks = $true }
$before = @(Get-VMSnapshot -VM $vm -SnapshotType Recovery | ForEach-Object { [string]$_.Id })
$result = Invoke-CimMethod -InputObject $service -MethodName CreateSnapshot -Arguments @{ AffectedSystem = $system; SnapshotSettings = (ConvertTo-OpenCdpEmbeddedInstance $settings); SnapshotType = [uint16]32768 }
Assert-OpenCdpCimResult $result 'CreateSnapshot'
$snapshot = Get-VMSnapshot -VM $vm -SnapshotType Recovery | Where-Object { $before -notcontains [string]$_.Id } | Select-Object -First 1
if (-not $snapshot) {
  throw 'CreateSnapshot reported success but no new recovery checkpoint is listed'
}
try {
  Rename-VMSnapshot -VMSnapshot $snapshot -NewName $P_name
  ConvertTo-OpenCdpCheckpoint (Get-VMSnapshot -VM $vm -SnapshotType Recovery | Where-Object { [string]$_.Id -eq [string]$snapshot.Id })
} catch {
  Remove-VMSnapshot -VMSnapshot $snapshot -Confirm:$false
  throw
}`,
});

export const GET_RECOVERY_CHECKPOINTS = op<HvCheckpoint[]>({
  name: 'Get-OpenCdpRecoveryCheckpoints',
  params: ['prefix'],
  result: 'list',
  schema: { type: 'array', items: CHECKPOINT },
  body: `${CHECKPOINT_PROJECTION}
Get-VM | Get-VMSnapshot -SnapshotType Recovery | Where-Object { $_.Name.StartsWith($P_prefix, [System.StringComparison]::Ordinal) } | ForEach-Object { ConvertTo-OpenCdpCheckpoint $_ }`,
});

export const REMOVE_RECOVERY_CHECKPOINT = op<{ Removed: boolean }>({
  name: 'Remove-OpenCdpRecoveryCheckpoint',
  params: ['vmId', 'checkpointId'],
  result: 'object',
  schema: obj({ Removed: { type: 'boolean' } }),
  body: `$vm = Get-VM -Id $P_vmId
$snapshot = Get-VMSnapshot -VM $vm -SnapshotType Recovery | Where-Object { [string]$_.Id -eq $P_checkpointId }
if ($snapshot) {
  Remove-VMSnapshot -VMSnapshot $snapshot -Confirm:$false
}
[ordered]@{ Removed = [bool]$snapshot }`,
});

/** Msvm_VirtualSystemSnapshotService.ConvertToReferencePoint: the checkpoint goes (merged), an RCT reference point stays. */
export const CONVERT_TO_REFERENCE_POINT = op<HvReferencePoint>({
  name: 'ConvertTo-OpenCdpReferencePoint',
  params: ['checkpointId'],
  result: 'object',
  schema: REFERENCE_POINT,
  body: `${REFERENCE_POINT_PROJECTION}
$ns = 'root/virtualization/v2'
$snapshot = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemSettingData | Where-Object { $_.InstanceID -eq ('Microsoft:' + $P_checkpointId) }
if (-not $snapshot) {
  throw ('recovery checkpoint ' + $P_checkpointId + ' does not exist')
}
$service = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemSnapshotService
$result = Invoke-CimMethod -InputObject $service -MethodName ConvertToReferencePoint -Arguments @{ AffectedSnapshot = $snapshot }
Assert-OpenCdpCimResult $result 'ConvertToReferencePoint'
ConvertTo-OpenCdpReferencePoint (Get-CimInstance -InputObject $result.ResultingReferencePoint)`,
});

export const GET_REFERENCE_POINTS = op<HvReferencePoint[]>({
  name: 'Get-OpenCdpReferencePoints',
  params: ['vmId'],
  result: 'list',
  schema: { type: 'array', items: REFERENCE_POINT },
  body: `${REFERENCE_POINT_PROJECTION}
Get-CimInstance -Namespace 'root/virtualization/v2' -ClassName Msvm_VirtualSystemReferencePoint | Where-Object { $_.VirtualSystemIdentifier -eq $P_vmId } | ForEach-Object { ConvertTo-OpenCdpReferencePoint $_ }`,
});

export const REMOVE_REFERENCE_POINT = op<{ Removed: boolean }>({
  name: 'Remove-OpenCdpReferencePoint',
  params: ['instanceId'],
  result: 'object',
  schema: obj({ Removed: { type: 'boolean' } }),
  body: `$ns = 'root/virtualization/v2'
$point = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemReferencePoint | Where-Object { $_.InstanceID -eq $P_instanceId }
if ($point) {
  $service = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemReferencePointService
  $result = Invoke-CimMethod -InputObject $service -MethodName DestroyReferencePoint -Arguments @{ AffectedReferencePoint = $point }
  Assert-OpenCdpCimResult $result 'DestroyReferencePoint'
}
[ordered]@{ Removed = [bool]$point }`,
});

/**
 * Msvm_ImageManagementService.GetVirtualDiskChanges for one region: the ranges changed since `limitId` (an
 * RCT id of a reference point). The host may process less than asked (ProcessedByteLength): the caller loops.
 */
export const GET_VIRTUAL_DISK_CHANGES = op<HvDiskChanges>({
  name: 'Get-OpenCdpVirtualDiskChanges',
  params: ['path', 'limitId', 'byteOffset', 'byteLength'],
  result: 'object',
  schema: obj({ ProcessedByteLength: int, ChangedByteOffsets: { type: 'array', items: int }, ChangedByteLengths: { type: 'array', items: int } }),
  body: `$service = Get-CimInstance -Namespace 'root/virtualization/v2' -ClassName Msvm_ImageManagementService
$result = Invoke-CimMethod -InputObject $service -MethodName GetVirtualDiskChanges -Arguments @{ Path = $P_path; LimitId = $P_limitId; ByteOffset = [uint64]$P_byteOffset; ByteLength = [uint64]$P_byteLength }
Assert-OpenCdpCimResult $result 'GetVirtualDiskChanges'
[ordered]@{
  ProcessedByteLength = [int64]$result.ProcessedByteLength
  ChangedByteOffsets = @($result.ChangedByteOffsets | ForEach-Object { [int64]$_ })
  ChangedByteLengths = @($result.ChangedByteLengths | ForEach-Object { [int64]$_ })
}`,
});

// ---- recovery VMs --------------------------------------------------------------------------------

export interface NewVmDisk {
  Path: string;
}

export interface NewVmNic {
  Name: string;
  SwitchName: string;
  /** Hyper-V's form: 12 hex digits, no separators; null: a dynamic MAC. */
  MacAddress: string | null;
}

/**
 * New-VM without a disk, then the recovered VHDX disks (the first one boots: IDE 0:0 on generation 1, SCSI
 * on generation 2), the NICs on their switches with their MACs, the boot order, and a note naming the
 * source. Any failure removes the VM again.
 */
export const NEW_RECOVERY_VM = op<HvVm>({
  name: 'New-OpenCdpRecoveryVm',
  params: ['name', 'generation', 'memoryBytes', 'processorCount', 'vmPath', 'notes', 'disks', 'nics'],
  result: 'object',
  schema: VM_SCHEMA,
  body: `${VM_PROJECTION}
$vm = New-VM -Name $P_name -Generation ([int16]$P_generation) -MemoryStartupBytes ([int64]$P_memoryBytes) -NoVHD -Path $P_vmPath
try {
  Set-VM -VM $vm -ProcessorCount ([int64]$P_processorCount) -Notes $P_notes -AutomaticCheckpointsEnabled $false
  Get-VMNetworkAdapter -VM $vm | Remove-VMNetworkAdapter
  if ([int]$P_generation -eq 1 -and @($P_disks).Count -gt 1 -and -not (Get-VMScsiController -VM $vm)) {
    Add-VMScsiController -VM $vm
  }
  $index = 0
  foreach ($disk in @($P_disks)) {
    $controller = if ([int]$P_generation -eq 1 -and $index -eq 0) { 'IDE' } else { 'SCSI' }
    Add-VMHardDiskDrive -VM $vm -ControllerType $controller -Path $disk.Path
    $index++
  }
  foreach ($nic in @($P_nics)) {
    $adapter = Add-VMNetworkAdapter -VM $vm -Name $nic.Name -SwitchName $nic.SwitchName -Passthru
    if ($nic.MacAddress) {
      Set-VMNetworkAdapter -VMNetworkAdapter $adapter -StaticMacAddress $nic.MacAddress
    }
  }
  $boot = Get-VMHardDiskDrive -VM $vm | Select-Object -First 1
  if ([int]$P_generation -eq 2) {
    Set-VMFirmware -VM $vm -FirstBootDevice $boot
  } else {
    Set-VMBios -VM $vm -StartupOrder @('IDE', 'CD', 'LegacyNetworkAdapter', 'Floppy')
  }
  ConvertTo-OpenCdpVm (Get-VM -Id $vm.Id)
} catch {
  Remove-VM -VM $vm -Force
  throw
}`,
});

/**
 * Re-IP through the KVP data exchange, as Hyper-V Replica's failover TCP/IP does: a static IPv4 configuration
 * for one NIC, applied by the guest's integration services when it boots.
 */
export const SET_GUEST_NETWORK = op<{ ReturnValue: number }>({
  name: 'Set-OpenCdpGuestNetwork',
  params: ['vmId', 'nicName', 'ipAddress', 'subnet', 'gateways', 'dnsServers'],
  result: 'object',
  schema: obj({ ReturnValue: int }),
  body: `${SERIALIZE}
$ns = 'root/virtualization/v2'
$vm = Get-VM -Id $P_vmId
$adapter = Get-VMNetworkAdapter -VM $vm | Where-Object { $_.Name -eq $P_nicName }
if (-not $adapter) {
  throw ('VM ' + $P_vmId + ' has no network adapter ' + $P_nicName)
}
$port = Get-CimInstance -Namespace $ns -ClassName Msvm_SyntheticEthernetPortSettingData | Where-Object { $_.InstanceID -eq $adapter.Id }
$config = Get-CimAssociatedInstance -InputObject $port -ResultClassName Msvm_GuestNetworkAdapterConfiguration
$config.DHCPEnabled = $false
$config.IPAddresses = [string[]]@($P_ipAddress)
$config.Subnets = [string[]]@($P_subnet)
$config.DefaultGateways = [string[]]@($P_gateways)
$config.DNSServers = [string[]]@($P_dnsServers)
$config.ProtocolIFType = [uint16]4096
$system = Get-CimInstance -Namespace $ns -ClassName Msvm_ComputerSystem | Where-Object { $_.Name -eq $P_vmId }
$service = Get-CimInstance -Namespace $ns -ClassName Msvm_VirtualSystemManagementService
$result = Invoke-CimMethod -InputObject $service -MethodName SetGuestNetworkAdapterConfiguration -Arguments @{ ComputerSystem = $system; NetworkConfiguration = [string[]]@(ConvertTo-OpenCdpEmbeddedInstance $config) }
Assert-OpenCdpCimResult $result 'SetGuestNetworkAdapterConfiguration'
[ordered]@{ ReturnValue = [int]$result.ReturnValue }`,
});

export const START_VM = op<null>({
  name: 'Start-OpenCdpVm',
  params: ['vmId'],
  result: 'none',
  schema: {},
  body: 'Start-VM -VM (Get-VM -Id $P_vmId)',
});

/** `shutdown`: a clean shutdown through the guest's integration services; `turnoff`: power off. */
export const STOP_VM = op<null>({
  name: 'Stop-OpenCdpVm',
  params: ['vmId', 'mode'],
  result: 'none',
  schema: {},
  body: `$vm = Get-VM -Id $P_vmId
if ([string]$vm.State -ne 'Off') {
  if ($P_mode -eq 'turnoff') {
    Stop-VM -VM $vm -TurnOff -Force -Confirm:$false
  } else {
    Stop-VM -VM $vm -Force -Confirm:$false
  }
}`,
});

/** Remove-VM, then its disk files and the folder the adapter made for it (`folder`, null for VMs it did not make). */
export const REMOVE_VM = op<{ RemovedFiles: string[] }>({
  name: 'Remove-OpenCdpVm',
  params: ['vmId', 'folder'],
  result: 'object',
  schema: obj({ RemovedFiles: strList }),
  body: `$vm = Get-VM -Id $P_vmId
if ([string]$vm.State -ne 'Off') {
  Stop-VM -VM $vm -TurnOff -Force -Confirm:$false
}
$files = @(Get-VMHardDiskDrive -VM $vm | Where-Object { $_.Path } | ForEach-Object { [string]$_.Path })
Remove-VM -VM $vm -Force
foreach ($file in $files) {
  Remove-Item -LiteralPath $file -Force
}
if ($P_folder -and (Test-Path -LiteralPath $P_folder)) {
  Remove-Item -LiteralPath $P_folder -Recurse -Force
}
[ordered]@{ RemovedFiles = $files }`,
});

/** Every operation the adapter may run (the script-parsing tests render each of them). */
export const ADAPTER_OPERATIONS: readonly PsOperation[] = [
  GET_INVENTORY, GET_HOST, GET_VM, NEW_RECOVERY_CHECKPOINT, GET_RECOVERY_CHECKPOINTS, REMOVE_RECOVERY_CHECKPOINT, CONVERT_TO_REFERENCE_POINT,
  GET_REFERENCE_POINTS, REMOVE_REFERENCE_POINT, GET_VIRTUAL_DISK_CHANGES, NEW_RECOVERY_VM, SET_GUEST_NETWORK, START_VM, STOP_VM, REMOVE_VM,
] as PsOperation[];
