// Conformance of the checkpoint barrier across appliances (J2 across hosts): the group's VMs on two hosts,
// one protected appliance per host, each reached by the coordinator only over the control link (real
// HTTP on loopback), as a manager reaches the appliances of a site with many hosts. Needs `multiHost`:
// a platform with several protected hosts whose VMs separate appliances split.
import assert from 'node:assert/strict';
import {
  BarrierParticipant, RemoteApplianceControl, cutAcrossAppliances, serveControl,
  type ApplianceControl, type BarrierMember, type Checkpoint, type ControlServer, type GroupRoundOutcome, type VmInfo,
} from '@opencdp/core';
import type { CaseContext } from './case-context.js';
import type { ConformanceCase } from './conformance-case.js';
import { PipelineRig } from './pipeline-rig.js';

const MiB = 1024 * 1024;
const HOLD_MS = 200;
const TOKEN = 'conformance-control-token';

/** One host's appliance behind the control link: its barrier participant over the rig's sender on that host. */
async function serveHost(r: PipelineRig, hostId: string, name: string): Promise<{ member: BarrierMember; server: ControlServer }> {
  const appliance = r.appliances.get(hostId)!;
  const participant = new BarrierParticipant({ clock: r.clock, sender: (g) => appliance.group(g) });
  const control = {
    siteId: 'protected', applianceId: name,
    holdBarrier: async (req: Parameters<BarrierParticipant['hold']>[0]) => participant.hold(req),
    releaseBarrier: async (req: Parameters<BarrierParticipant['release']>[0]) => participant.release(req),
    abortBarrier: async (roundId: string, reason: string) => participant.abort(roundId, reason),
  } as unknown as ApplianceControl;
  const server = await serveControl(control, { host: '127.0.0.1', port: 0 }, { token: TOKEN });
  return { member: { name, control: new RemoteApplianceControl('protected', server.url, TOKEN) }, server };
}

/** Runs a round to its end, moving the harness clock while it waits (the hold bound runs on that clock). */
async function settle(r: PipelineRig, round: Promise<GroupRoundOutcome[]>, limitMs = 30_000): Promise<GroupRoundOutcome[]> {
  let done = false;
  void round.then(() => (done = true), () => (done = true));
  for (let t = 0; !done && t < limitMs; t += 10) {
    await new Promise((resolve) => setTimeout(resolve, 2)); // real I/O of the control link
    if (!done) await r.ctx.harness.advance(10);
  }
  return round;
}

function token(k: number): Buffer {
  const b = Buffer.alloc(4096);
  b.writeUInt32LE(k, 0);
  return b;
}

async function tokensOf(r: PipelineRig, cp: Checkpoint, a: VmInfo, b: VmInfo): Promise<[number, number]> {
  const ia = await r.journal(a.id).openImage(cp.id);
  const ib = await r.journal(b.id).openImage(cp.id);
  try {
    return [(await ia.read(a.volumes[0].id, 0, 4)).readUInt32LE(0), (await ib.read(b.volumes[0].id, 0, 4)).readUInt32LE(0)];
  } finally {
    ia.close();
    ib.close();
  }
}

export const crossApplianceCases: readonly ConformanceCase[] = [
  {
    id: 'J2.4',
    title: 'barrier across appliances over the control link: VM a (host 1) writes k and waits, VM b (host 2) writes k — every checkpoint has token(b) ≤ token(a) ≤ token(b)+1; a member that stops answering or is gone aborts the round (nothing listed), the other is released within the bound',
    needs: ['writeTap', 'multiHost'],
    splitterOnly: 'the barrier across appliances holds write completions on each appliance\'s taps; a change-tracking cycle\'s view spans one appliance\'s VMs',
    async run(ctx: CaseContext) {
      const [h1, h2] = await ctx.protectedHosts();
      assert.ok(h1 && h2 && h1 !== h2, 'multiHost: the harness offers two protected hosts');
      const r = await PipelineRig.create(ctx, { vms: [{ name: 'a', hostId: h1, volumes: [{ sizeBytes: 2 * MiB }] }, { name: 'b', hostId: h2, volumes: [{ sizeBytes: 2 * MiB }] }] });
      ctx.onDispose(() => r.stop());
      await r.start();
      await r.converge();
      const [a, b] = r.vms;
      const one = await serveHost(r, h1, 'host-1 appliance');
      let two = await serveHost(r, h2, 'host-2 appliance');
      ctx.onDispose(async () => {
        await one.server.close();
        await two.server.close();
      });
      let roundNo = 0;
      const round = (members: BarrierMember[], holdMs = HOLD_MS): Promise<GroupRoundOutcome[]> => cutAcrossAppliances(
        { roundId: `conf-${++roundNo}`, groups: [{ groupId: r.groupId, checkpointId: `${r.groupId}-x${roundNo}`, members }], kind: 'auto', timestamp: r.clock.now(), holdMs },
        { clock: r.clock },
      );

      // Token pairs; rounds cut between the two writes and racing the second one.
      const cut: string[] = [];
      for (let k = 1; k <= 30; k++) {
        await r.write(a.id, a.volumes[0].id, 0, token(k));
        // 0: a round between the two writes; 1: a round racing VM b's write; 2: none.
        const how = ctx.random.int(0, 2);
        const outcome = how === 0 ? await settle(r, round([one.member, two.member])) : [];
        const racing = how === 1 ? round([one.member, two.member]) : undefined;
        const wb = r.write(b.id, b.volumes[0].id, 0, token(k));
        if (racing) outcome.push(...(await settle(r, racing)));
        await wb;
        for (const o of outcome) if (o.status === 'cut') cut.push(o.checkpoint.id);
      }
      await r.converge();
      await r.waitFor('every round checkpoint to be listed', () => cut.every((id) => r.checkpoints().some((c) => c.id === id)));
      const listed = r.checkpoints();
      for (const id of cut) assert.ok(listed.some((c) => c.id === id), `round checkpoint ${id} is listed in both journals`);
      let between = 0;
      for (const cp of listed.filter((c) => cut.includes(c.id))) {
        const [ta, tb] = await tokensOf(r, cp, a, b);
        assert.ok(tb <= ta && ta <= tb + 1, `checkpoint ${cp.id}: token(a) ${ta}, token(b) ${tb}`);
        if (ta === tb + 1) between++;
      }
      assert.ok(cut.length >= 5, `${cut.length} rounds cut`);
      assert.ok(between > 0, 'some round fell between a pair\'s two writes, so the order was really tested');

      // Host 2's appliance stops answering: the round aborts at the bound, host 1's guest waits no longer than that.
      const hung = { name: 'host-2 appliance (hung)', control: { ...two.member.control, siteId: 'protected', holdBarrier: () => new Promise(() => undefined), releaseBarrier: two.member.control.releaseBarrier!.bind(two.member.control), abortBarrier: async () => undefined } as unknown as ApplianceControl };
      const before = r.checkpoints().length;
      const pending = round([one.member, hung]);
      const issuedAt = r.clock.now();
      let completedAt = -1;
      void r.write(a.id, a.volumes[0].id, 8192, token(999)).then(() => (completedAt = r.clock.now()));
      const [hungOutcome] = await settle(r, pending);
      assert.equal(hungOutcome.status, 'aborted');
      assert.match(hungOutcome.status === 'aborted' ? hungOutcome.reason : '', /host-2 appliance \(hung\) failed the hold: no answer within the 200 ms hold bound/);
      for (let t = 0; completedAt < 0 && t < 2000; t += 10) await r.ctx.harness.advance(10);
      assert.ok(completedAt >= 0 && completedAt - issuedAt <= HOLD_MS, `host 1's guest waited ${completedAt - issuedAt} ms (bound ${HOLD_MS})`);

      // Host 2's appliance is gone (its control link closed, as after kill -9): the round fails at once.
      await two.server.close();
      const [goneOutcome] = await settle(r, round([one.member, two.member]));
      assert.equal(goneOutcome.status, 'aborted');
      await r.converge();
      assert.equal(r.checkpoints().length, before, 'no checkpoint listed for the aborted rounds');

      // Back: the next round is cut and its image equals the oracle.
      two = await serveHost(r, h2, 'host-2 appliance');
      const snapshot = ctx.oracle.snapshot();
      const [back] = await settle(r, round([one.member, two.member]));
      assert.equal(back.status, 'cut', back.status !== 'cut' ? back.reason : '');
      await r.converge();
      if (back.status === 'cut') {
        // A marker carries no bytes: "converged" may come before it is acknowledged, so wait for the listing.
        const id = back.checkpoint.id;
        await r.waitFor(`checkpoint ${id} to be listed in every journal`, () => r.checkpoints().some((c) => c.id === id));
        await r.verify(id, snapshot);
      }
    },
  },
];
