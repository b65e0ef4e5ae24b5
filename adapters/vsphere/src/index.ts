// @opencdp/adapter-vsphere: vSphere through the vim25 SOAP API (strong-soap on the project's own subset
// WSDL), CBT change tracking through snapshots, recovery VMs from uploaded flat extents.
export * from './vsphere-errors.js';
export * from './vim-types.js';
export * from './vim-http.js';
export * from './vim25-soap.js';
export * from './vim-client.js';
export * from './datastore-http.js';
export * from './vmdk-descriptor.js';
export * from './disk-transport.js';
export * from './vsphere-site.js';
export * from './vsphere-change-tracking.js';
export * from './vsphere-recovery.js';
export * from './vsphere-hypervisor.js';
export * from './vsphere-config.js';
export * from './vsphere-platform-provider.js';
export * from './vsphere-adapter-module.js';
