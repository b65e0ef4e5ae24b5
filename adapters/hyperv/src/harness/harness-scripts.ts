// What an administrator (and the conformance harness in that role) does on a Hyper-V host besides what the
// adapter does: create a protected VM with dynamic VHDX disks, hot-add a disk, move a VM's storage (which
// resets RCT: the old reference points no longer answer), and delete checkpoints by hand.
import type { PsOperation } from '../powershell/ps-script.js';

export const NEW_PROTECTED_VM: PsOperation<{ Id: string }> = {
  name: 'New-OpenCdpTestVm',
  params: ['name', 'vmPath', 'generation', 'switchName', 'disks'],
  result: 'object',
  schema: { type: 'object', required: ['Id'], properties: { Id: { type: 'string' } } },
  body: `$vm = New-VM -Name $P_name -Generation ([int16]$P_generation) -MemoryStartupBytes 512MB -NoVHD -Path $P_vmPath
Set-VM -VM $vm -CheckpointType Production -AutomaticCheckpointsEnabled $false
foreach ($disk in @($P_disks)) {
  New-VHD -Path $disk.Path -SizeBytes ([uint64]$disk.SizeBytes) -Dynamic -BlockSizeBytes 1MB -LogicalSectorSizeBytes ([uint32]$disk.LogicalSectorSize) | Out-Null
  Add-VMHardDiskDrive -VM $vm -ControllerType SCSI -Path $disk.Path
}
Get-VMNetworkAdapter -VM $vm | Connect-VMNetworkAdapter -SwitchName $P_switchName
Start-VM -VM $vm
[ordered]@{ Id = [string]$vm.Id }`,
};

export const ADD_VHD: PsOperation<null> = {
  name: 'Add-OpenCdpTestVhd',
  params: ['vmId', 'path', 'sizeBytes', 'logicalSectorSize'],
  result: 'none',
  schema: {},
  body: `New-VHD -Path $P_path -SizeBytes ([uint64]$P_sizeBytes) -Dynamic -BlockSizeBytes 1MB -LogicalSectorSizeBytes ([uint32]$P_logicalSectorSize) | Out-Null
Add-VMHardDiskDrive -VM (Get-VM -Id $P_vmId) -ControllerType SCSI -Path $P_path`,
};

/** Storage migration: the VHDX files move, and RCT starts over (reference points taken before it are useless). */
export const MOVE_VM_STORAGE: PsOperation<null> = {
  name: 'Move-OpenCdpTestVmStorage',
  params: ['vmId', 'destination'],
  result: 'none',
  schema: {},
  body: 'Move-VMStorage -VM (Get-VM -Id $P_vmId) -DestinationStoragePath $P_destination',
};

/** An administrator deletes checkpoints whose names start with `prefix` (the adapter's views vanish). */
export const REMOVE_CHECKPOINTS_BY_NAME: PsOperation<null> = {
  name: 'Remove-OpenCdpTestCheckpoints',
  params: ['prefix'],
  result: 'none',
  schema: {},
  body: 'Get-VM | Get-VMSnapshot -SnapshotType Recovery | Where-Object { $_.Name.StartsWith($P_prefix, [System.StringComparison]::Ordinal) } | Remove-VMSnapshot -Confirm:$false',
};

export const HARNESS_OPERATIONS: readonly PsOperation[] = [NEW_PROTECTED_VM, ADD_VHD, MOVE_VM_STORAGE, REMOVE_CHECKPOINTS_BY_NAME] as PsOperation[];
