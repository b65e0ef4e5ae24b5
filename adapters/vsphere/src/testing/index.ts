// Test support of @opencdp/adapter-vsphere (`@opencdp/adapter-vsphere/testing`): the vcsim fixture (with its
// SIMULATED CBT and snapshot disk data) and protected test VMs, for specs and benchmarks.
export * from './vcsim-fixture.js';
export * from './test-vms.js';
