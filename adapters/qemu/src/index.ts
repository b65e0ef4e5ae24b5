// @opencdp/adapter-qemu: KVM/QEMU through QMP and NBD — a write-blocking mirror into the appliance's
// NBD server as the splitter, dirty bitmaps for change tracking, real qemu-storage-daemon hosts.
export * from './qemu-errors.js';
export * from './nbd-protocol.js';
export * from './nbd-server.js';
export * from './nbd-client.js';
export * from './qmp-client.js';
export * from './storage-daemon.js';
export * from './qemu-tools.js';
export * from './qemu-write-tap.js';
export * from './qemu-hypervisor.js';
export * from './qemu-harness.js';
export * from './qemu-adapter-module.js';
export * from './qemu-recovery.js';
export * from './qemu-guest.js';
export * from './vm-process.js';
export * from './linux-guest.js';
export * from './nbd-volume-file.js';
export * from './qemu-platform.js';
export * from './qemu-platform-provider.js';
