import assert from 'node:assert/strict';
import { ValidationError, VirtualClock, settle } from '@opencdp/core';
import type { ConsistencyAgent } from '@opencdp/core';
import { FakeConsistencyAgent } from './fake-consistency-agent.js';
import { FakeDataCenter } from './fake-data-center.js';
import { QuiesceError } from './fake-errors.js';
import { watch } from './spec-helpers.js';

function setup(): { clock: VirtualClock; dc: FakeDataCenter; agent: FakeConsistencyAgent; vmId: string; otherId: string } {
  const clock = new VirtualClock();
  const dc = new FakeDataCenter({ clock });
  const site = dc.addSite('prod');
  const host = dc.addHost(site.id, 'h1');
  const vmId = dc.createVm({ name: 'sql', hostId: host.id, volumes: [{ sizeBytes: 1 << 20 }] }).id;
  const otherId = dc.createVm({ name: 'web', hostId: host.id, volumes: [{ sizeBytes: 1 << 20 }] }).id;
  return { clock, dc, agent: new FakeConsistencyAgent(dc), vmId, otherId };
}

describe('FakeConsistencyAgent', () => {
  it('holds the guest writes of a quiesced VM until thaw, then applies them in order', async () => {
    const { clock, dc, agent, vmId, otherId } = setup();
    const port: ConsistencyAgent = agent; // compile-time check
    const tap = dc.openTap(vmId);
    const seen: number[] = [];
    tap.start(async (w) => { seen.push(w.data[0]); });
    const token = await port.quiesce(vmId);
    const first = watch(dc.guestWrite(vmId, 'vol-1', 0, Buffer.alloc(512, 1)));
    const second = watch(dc.guestWrite(vmId, 'vol-1', 0, Buffer.alloc(512, 2)));
    await dc.guestWrite(otherId, 'vol-2', 0, Buffer.alloc(512, 3)); // other VMs are not held
    await clock.advance(10_000);
    assert.equal(first.state, 'pending');
    assert.equal(second.state, 'pending');
    assert.deepEqual(seen, []);
    assert.deepEqual(await dc.guestRead(vmId, 'vol-1', 0, 512), Buffer.alloc(512), 'held writes are not applied yet');
    assert.deepEqual(agent.quiesced, [vmId]);

    await clock.advance(5);
    await port.thaw(token);
    await settle();
    assert.equal(first.state, 'resolved');
    assert.equal(second.state, 'resolved');
    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual(await dc.guestRead(vmId, 'vol-1', 0, 512), Buffer.alloc(512, 2));
    const start = Date.UTC(2026, 0, 1);
    assert.deepEqual(agent.log, [
      { action: 'quiesce', vmId, handle: token.handle, at: start, ok: true },
      { action: 'thaw', vmId, handle: token.handle, at: start + 10_005, ok: true },
    ]);
    await assert.rejects(port.thaw(token), ValidationError, 'a token thaws once');
  });

  it('failNextQuiesce fails one quiesce, holding nothing', async () => {
    const { dc, agent, vmId } = setup();
    agent.failNextQuiesce('VSS writer timed out');
    await assert.rejects(agent.quiesce(vmId), QuiesceError);
    await dc.guestWrite(vmId, 'vol-1', 0, Buffer.alloc(512, 1)); // not held
    const token = await agent.quiesce(vmId);
    await agent.thaw(token);
    assert.deepEqual(agent.log.map((e) => [e.action, e.ok]), [['quiesce', false], ['quiesce', true], ['thaw', true]]);
    assert.match(agent.log[0].error!, /VSS writer timed out/);
  });

  it('answers handles() for known, agent-equipped VMs only', async () => {
    const { agent, vmId, otherId } = setup();
    assert.equal(agent.handles(vmId), true);
    assert.equal(agent.handles('vm-9'), false);
    agent.exclude(otherId);
    assert.equal(agent.handles(otherId), false);
    await assert.rejects(agent.quiesce(otherId), QuiesceError);
  });
});
