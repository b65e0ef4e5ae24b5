// @opencdp/adapter-hyperv: Hyper-V through PowerShell (node-powershell), resilient change tracking on recovery
// checkpoints, recovery VMs on dynamic VHDX disks written by this package's VHDX writer.
export * from './vhdx/index.js';
export * from './powershell/powershell-errors.js';
export * from './powershell/ps-quote.js';
export * from './powershell/ps-script.js';
export * from './powershell/powershell-session.js';
export * from './hyperv-errors.js';
export * from './hyperv-config.js';
export * from './hyperv-scripts.js';
export * from './disk-transport.js';
export * from './hyperv-host-client.js';
export * from './rct-token-store.js';
export * from './hyperv-change-tracking.js';
export * from './hyperv-hypervisor.js';
export * from './hyperv-platform-provider.js';
export * from './hyperv-adapter-module.js';
export * from './harness/hyperv-harness.js';
export * from './harness/simulated-hyperv.js';
export * from './simulation/simulated-host.js';
