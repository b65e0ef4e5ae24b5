// The typed vim25 client against vcsim over TLS: login with the session cookie, re-login after the session
// is terminated, logout, thumbprint pinning, faults as typed errors, unreadable answers, tasks that fail or
// never end (the fixture's fault injection), and property collector paging over a thousand VMs.
import assert from 'node:assert/strict';
import { VimClient } from './vim-client.js';
import { MoRef } from './vim-types.js';
import { SoapResponseError, ThumbprintMismatchError, VimFaultError, VimTaskError, VimTaskTimeoutError, VsphereConnectionError } from './vsphere-errors.js';
import { sessionKeys, useVcsim } from './testing/spec-helpers.js';

describe('VimClient against vcsim (TLS, real sessions)', function () {
  this.timeout(60_000);
  const vc = useVcsim();

  it('logs in with the session cookie and reads the service content', async () => {
    const events: string[] = [];
    const client = await vc.client({ log: (e) => events.push(e) });
    assert.equal(client.content.apiType, 'VirtualCenter');
    assert.match(client.content.apiVersion, /^\d+\.\d+/);
    assert.ok(client.sessionKey, 'a session key');
    assert.ok(client.http.cookie?.startsWith('vmware_soap_session='), 'the session cookie is kept');
    assert.deepEqual(events, ['vsphere-login']);
    assert.ok((await sessionKeys(client)).includes(client.sessionKey!), 'vCenter lists the session');
    assert.ok(Date.parse(await client.currentTime()) > 0);
  });

  it('a wrong password is refused with the InvalidLogin fault and a hint', async () => {
    await assert.rejects(vc.client({ password: () => 'not-the-password' }), (e: unknown) => {
      assert.ok(e instanceof VimFaultError);
      assert.equal(e.faultName, 'InvalidLogin');
      assert.equal(e.code, 'VIM_FAULT');
      assert.match(e.message, /password/);
      return true;
    });
  });

  it('logs in again once when vCenter terminated the session, and the call goes through', async () => {
    const events: string[] = [];
    const client = await vc.client({ log: (e) => events.push(e) });
    const admin = await vc.client();
    const first = client.sessionKey!;
    await admin.terminateSessions([first]);
    assert.ok(!(await sessionKeys(admin)).includes(first), 'the session is gone');
    // The next call meets NotAuthenticated, logs in again and is repeated.
    const dcs = await client.inventory(client.content.rootFolder, [{ type: 'Datacenter', paths: ['name'] }]);
    assert.deepEqual(dcs.map((d) => d.props.name), ['DC0']);
    assert.notEqual(client.sessionKey, first, 'a new session');
    assert.deepEqual(events, ['vsphere-login', 'vsphere-session-expired', 'vsphere-login']);
    // Concurrent calls after an expiry share one re-login.
    await admin.terminateSessions([client.sessionKey!]);
    await Promise.all([client.currentTime(), client.currentTime(), client.currentTime()]);
    assert.equal(events.filter((e) => e === 'vsphere-login').length, 3);
  });

  it('logs out on close: the session no longer exists', async () => {
    const client = await vc.client();
    const admin = await vc.client();
    const key = client.sessionKey!;
    await client.close();
    assert.ok(!(await sessionKeys(admin)).includes(key));
    await assert.rejects(admin.terminateSessions([key]), (e: unknown) => e instanceof VimFaultError && e.faultName === 'NotFound');
  });

  it('refuses a server whose certificate does not match the pinned thumbprint, before sending anything', async () => {
    const admin = await vc.client();
    const before = await sessionKeys(admin);
    const wrong = vc.fixture.thumbprint.replace(/^../, vc.fixture.thumbprint.startsWith('00') ? '11' : '00');
    await assert.rejects(VimClient.connect({ url: vc.fixture.url, user: vc.fixture.user, password: () => vc.fixture.password, trust: { kind: 'thumbprint', thumbprint: wrong } }), (e: unknown) => {
      assert.ok(e instanceof ThumbprintMismatchError, `got ${(e as Error).message}`);
      assert.equal(e.actual, vc.fixture.thumbprint);
      return true;
    });
    assert.deepEqual((await sessionKeys(admin)).sort(), before.sort(), 'no session was made');
    // The SHA-1 thumbprint vSphere shows is accepted as well.
    const sha1 = await vc.client({ trust: { kind: 'thumbprint', thumbprint: vc.fixture.thumbprintSha1.toLowerCase() } });
    assert.ok(sha1.sessionKey);
    // Without a pin the self-signed certificate fails verification: never silently accepted.
    await assert.rejects(VimClient.connect({ url: vc.fixture.url, user: vc.fixture.user, password: () => vc.fixture.password, trust: { kind: 'system' } }),
      (e: unknown) => e instanceof VsphereConnectionError && /self[- ]signed|certificate/i.test(e.message));
  });

  it('turns faults into typed errors with the fault name and its fields', async () => {
    const client = await vc.client();
    await assert.rejects(client.properties(new MoRef('VirtualMachine', 'vm-404'), ['name']), (e: unknown) => e instanceof VimFaultError && e.faultName === 'ManagedObjectNotFound');
    await assert.rejects(client.invoke('PowerOffVM_Task', { _this: new MoRef('VirtualMachine', 'vm-404') }), (e: unknown) => {
      assert.ok(e instanceof VimFaultError);
      assert.equal(e.faultName, 'ManagedObjectNotFound');
      assert.equal(e.method, 'PowerOffVM_Task');
      assert.match(e.hint ?? '', /refresh the inventory/);
      return true;
    });
    await vc.fixture.armFault({ method: 'CurrentTime', kind: 'soap-fault', fault: 'InvalidState', count: 1 });
    await assert.rejects(client.currentTime(), (e: unknown) => e instanceof VimFaultError && e.faultName === 'InvalidState' && /InvalidState/.test(e.message));
    assert.ok(await client.currentTime(), 'the fault applied once');
  });

  it('refuses truncated and malformed answers with SoapResponseError naming the method', async () => {
    const client = await vc.client();
    await vc.fixture.armFault({ method: 'RetrievePropertiesEx', kind: 'truncate', count: 1 });
    await assert.rejects(client.inventory(client.content.rootFolder, [{ type: 'HostSystem', paths: ['name'] }]),
      (e: unknown) => e instanceof SoapResponseError && e.method === 'RetrievePropertiesEx');
    await vc.fixture.armFault({ method: 'CurrentTime', kind: 'malformed', count: 1 });
    await assert.rejects(client.currentTime(), (e: unknown) => e instanceof SoapResponseError && e.method === 'CurrentTime' && e.code === 'SOAP_RESPONSE');
    assert.equal((await client.inventory(client.content.rootFolder, [{ type: 'HostSystem', paths: ['name'] }])).length, 3, 'the client works on after bad answers');
  });

  it('awaits tasks through the property collector: a failed task names its fault, a task that never ends times out with its progress', async () => {
    const client = await vc.client();
    const [vm] = await client.inventory(client.content.rootFolder, [{ type: 'HostSystem', paths: ['name'] }]);
    await vc.fixture.armFault({ method: 'Destroy_Task', kind: 'task-error', fault: 'TaskInProgress', count: 1, this: vm.obj.value });
    await assert.rejects(client.runTask('Destroy_Task', { _this: vm.obj }), (e: unknown) => {
      assert.ok(e instanceof VimTaskError, `got ${(e as Error).constructor.name}: ${(e as Error).message}`);
      assert.equal(e.faultName, 'TaskInProgress');
      assert.equal(e.taskName, 'Destroy_Task');
      return true;
    });
    const progress: number[] = [];
    await vc.fixture.armFault({ method: 'Destroy_Task', kind: 'task-hang', count: 1, this: vm.obj.value });
    // The hung "destroy" of a host is harmless here: vcsim's hosts outlive it.
    await assert.rejects(client.runTask('Destroy_Task', { _this: vm.obj }, { timeoutMs: 700, onProgress: (p) => progress.push(p) }), (e: unknown) => {
      assert.ok(e instanceof VimTaskTimeoutError);
      assert.equal(e.lastProgress, 42);
      assert.equal(e.timeoutMs, 700);
      return true;
    });
    assert.deepEqual(progress, [42]);
  });
});

describe('VimClient paging over a thousand VMs (vcsim)', function () {
  this.timeout(120_000);
  const vc = useVcsim({ vms: 500 });

  it('pages RetrievePropertiesEx / ContinueRetrievePropertiesEx until the token runs out, every VM once', async () => {
    const paged = await vc.client({ pageSize: 97 });
    const whole = await vc.client({ pageSize: 5000 });
    const small = await paged.inventory(paged.content.rootFolder, [{ type: 'VirtualMachine', paths: ['name', 'runtime.powerState'] }]);
    const big = await whole.inventory(whole.content.rootFolder, [{ type: 'VirtualMachine', paths: ['name', 'runtime.powerState'] }]);
    assert.equal(small.length, 1000);
    assert.equal(new Set(small.map((o) => o.obj.value)).size, 1000, 'no VM twice');
    assert.deepEqual(small.map((o) => `${o.obj.value}=${String(o.props.name)}`).sort(), big.map((o) => `${o.obj.value}=${String(o.props.name)}`).sort());
    // The small page size really pages: a fault on the continuation reaches it, the one-page read never calls it.
    await vc.fixture.armFault({ method: 'ContinueRetrievePropertiesEx', kind: 'soap-fault', fault: 'InvalidState', count: 1 });
    await assert.rejects(paged.inventory(paged.content.rootFolder, [{ type: 'VirtualMachine', paths: ['name'] }]), (e: unknown) => e instanceof VimFaultError && e.method === 'ContinueRetrievePropertiesEx');
    assert.equal((await whole.inventory(whole.content.rootFolder, [{ type: 'VirtualMachine', paths: ['name'] }])).length, 1000);
    await vc.fixture.clearFaults();
  });
});
