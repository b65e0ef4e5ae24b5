// The journal suite: the design's journal semantics J1–J7 checked end to end through an adapter's
// harness (guest writes → tap → LocalReplication → journals on the harness's recovery storage), every
// image compared with the oracle. Ids in titles are what the report and `--grep` key on.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { cutCheckpoint, LocalReplication, parseProtectionGroupSettings } from '@opencdp/core';
import type { Checkpoint, Journal, JournalStats, PointInTimeImage, TrimEvent, VmInfo } from '@opencdp/core';
import type { CaseContext, GroupRig } from './case-context.js';
import type { ConformanceCase } from './conformance-case.js';
import { assertImageEquals, type VmSnapshot } from './oracle.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export const journalSuite: readonly ConformanceCase[] = [
  // ---- J1 write-order fidelity ------------------------------------------------------------
  {
    id: 'J1.1',
    title: 'random overlapping writes over 2 VMs × 2 volumes (one with 4096-byte sectors where the platform hosts them): every checkpoint image equals the oracle',
    needs: ['writeTap'],
    async run(ctx) {
      const g = await ctx.group({
        autoCheckpoints: false,
        vms: [
          { name: 'j1-a', volumes: [{ sizeBytes: 2 * MiB }, { sizeBytes: 1 * MiB, sectorSize: ctx.largeSector }] },
          { name: 'j1-b', volumes: [{ sizeBytes: 1 * MiB, sectorSize: ctx.largeSector }, { sizeBytes: 2 * MiB }] },
        ],
      });
      const cut: Checkpoint[] = [];
      for (let round = 0; round < 16; round++) {
        await g.randomWrites(25, 48 * KiB);
        // A hot spot: many writes over few blocks, so later writes must win over earlier ones.
        await g.randomWrites(25, 16 * KiB, 192 * KiB);
        cut.push(await g.cut('tagged', `round-${round}`));
      }
      assert.deepEqual(g.replication.checkpoints().map((c) => c.id), cut.map((c) => c.id), 'every checkpoint cut is listed, oldest first');
      assert.ok(cut.every((c, i) => i === 0 || c.seq > cut[i - 1].seq), `checkpoint sequence numbers grow (observed ${cut.map((c) => c.seq).join(', ')})`);
      assert.equal(await g.verifyRetained(), cut.length);
    },
  },
  {
    id: 'J1.2',
    title: 'the same region rewritten over and over with a checkpoint after every write: each image holds exactly the writes before it',
    needs: ['writeTap'],
    async run(ctx) {
      const g = await ctx.group({
        autoCheckpoints: false,
        vms: [{ name: 'j1-rewrite', volumes: [{ sizeBytes: 512 * KiB }, { sizeBytes: 256 * KiB, sectorSize: ctx.largeSector }] }],
      });
      for (let i = 0; i < 64; i++) {
        await g.randomWrite(24 * KiB, 64 * KiB);
        await g.cut('tagged', `version-${i}`);
      }
      assert.equal(await g.verifyRetained(), 64);
    },
  },
  {
    id: 'J1.3',
    title: 'guest writes past the end or unaligned fail with VolumeRangeError / AlignmentError and leave the journal unchanged',
    needs: ['writeTap'],
    async run(ctx) {
      const g = await ctx.group({
        autoCheckpoints: false,
        vms: [{ name: 'j1-bad', volumes: [{ sizeBytes: 1 * MiB }, { sizeBytes: 1 * MiB, sectorSize: ctx.largeSector }] }],
      });
      const vm = g.vms[0];
      const [v512, v4k] = vm.volumes;
      await g.randomWrites(30, 16 * KiB);
      const before = await g.cut('tagged', 'before-bad-input');
      const stats = g.journals().map(stableStats);
      const lastSeq = g.replication.lastSeq;
      type Bad = [string, number, number, 'VolumeRangeError' | 'AlignmentError'];
      const bad: Bad[] = [
        [v512.id, v512.sizeBytes - 512, 1024, 'VolumeRangeError'],
        [v512.id, v512.sizeBytes, 512, 'VolumeRangeError'],
        [v512.id, -512, 512, 'VolumeRangeError'],
        [v512.id, 100, 512, 'AlignmentError'],
        [v512.id, 512, 100, 'AlignmentError'],
        // Aligned to 512 but not to 4096: refused only where the volume really has 4096-byte sectors.
        ...(v4k.sectorSize === 4096 ? [[v4k.id, 512, 4096, 'AlignmentError'], [v4k.id, 0, 512, 'AlignmentError']] satisfies Bad[] : []),
        [v4k.id, v4k.sizeBytes - 4096, 8192, 'VolumeRangeError'],
      ];
      for (const [volumeId, offset, length, type] of bad) {
        await assertTypedRejection(g.write(vm.id, volumeId, offset, Buffer.alloc(length, 0xee)), type, `a ${length}-byte write at ${offset} to volume '${volumeId}'`);
      }
      assert.equal(g.replication.lastSeq, lastSeq, 'no refused write was stamped');
      await g.idle();
      assert.deepEqual(g.journals().map(stableStats), stats, 'journal statistics are unchanged');
      await g.verify(before.id);
      const after = await g.cut('tagged', 'after-bad-input');
      assert.equal(after.seq, before.seq, 'no refused write reached the journal');
      await g.verify(after.id);
    },
  },

  // ---- J2 crash consistency across the group ----------------------------------------------------
  {
    id: 'J2.1',
    title: 'causal chains (VM A\'s write completes, then VM B on another host writes) racing with checkpoints: B present ⇒ A present',
    needs: ['writeTap'],
    crossVm: true,
    async run(ctx) {
      const [hostA, hostB] = await ctx.protectedHosts();
      const g = await ctx.group({
        autoCheckpoints: false,
        vms: [
          { name: 'j2-a', ...(hostA ? { hostId: hostA } : {}), volumes: [{ sizeBytes: 1 * MiB }] },
          { name: 'j2-b', ...(hostB ? { hostId: hostB } : {}), volumes: [{ sizeBytes: 1 * MiB }] },
        ],
      });
      const [a, b] = g.vms;
      const slot = 4096;
      const chains: { at: number; a: Buffer; b: Buffer }[] = [];
      const racing: Checkpoint[] = [];
      for (let round = 0; round < 24; round++) {
        const work: Promise<void>[] = [];
        for (let k = 0; k < 8; k++) {
          const chain = { at: chains.length * slot, a: ctx.random.bytes(slot), b: ctx.random.bytes(slot) };
          chains.push(chain);
          const delay = ctx.random.int(0, 4);
          work.push((async () => {
            await turns(delay);
            await g.write(a.id, a.volumes[0].id, chain.at, chain.a);
            // Issued only once A's write has completed: every checkpoint holding this one must hold A's.
            await g.write(b.id, b.volumes[0].id, chain.at, chain.b);
          })());
        }
        for (let c = 0; c < 2; c++) {
          const delay = ctx.random.int(0, 8);
          work.push((async () => {
            await turns(delay);
            const cp = await g.replication.checkpoint('tagged', `race-${round}-${c}`);
            g.adopt(cp, 'racing');
            racing.push(cp);
          })());
        }
        await Promise.all(work);
      }
      const outcomes = { neither: 0, both: 0, onlyA: 0 };
      const span = chains.length * slot;
      for (const cp of racing) {
        const imageA = await g.openImage(a.id, cp.id);
        const imageB = await g.openImage(b.id, cp.id);
        const bytesA = await imageA.read(a.volumes[0].id, 0, span);
        const bytesB = await imageB.read(b.volumes[0].id, 0, span);
        imageA.close();
        imageB.close();
        chains.forEach((chain, i) => {
          const hasA = presence(bytesA.subarray(chain.at, chain.at + slot), chain.a, `chain ${i}, VM A, checkpoint '${cp.id}'`);
          const hasB = presence(bytesB.subarray(chain.at, chain.at + slot), chain.b, `chain ${i}, VM B, checkpoint '${cp.id}'`);
          assert.ok(!hasB || hasA, `checkpoint '${cp.id}' (seq ${cp.seq}) holds VM B's write of chain ${i} but not VM A's, which had completed before B's was issued`);
          if (hasA && hasB) outcomes.both++;
          else if (hasA) outcomes.onlyA++;
          else outcomes.neither++;
        });
      }
      // Without a checkpoint landing between the two writes of some chain the race proved nothing.
      assert.ok(outcomes.onlyA > 0, `no checkpoint fell between the two writes of a chain (${JSON.stringify(outcomes)}); the race did not exercise the barrier`);
      const settled = await g.cut('tagged', 'after-race');
      await g.verify(settled.id);
    },
  },
  {
    id: 'J2.2',
    title: 'a group checkpoint is one marker with one id, sequence number and timestamp in every VM\'s journal',
    needs: ['writeTap'],
    crossVm: true,
    async run(ctx) {
      const g = await ctx.group({
        settings: { checkpointIntervalMs: 1000 },
        vms: [0, 1, 2].map((i) => ({ name: `j2-m${i}`, volumes: [{ sizeBytes: 256 * KiB }] })),
      });
      await g.randomWrites(30, 16 * KiB);
      await g.cut('tagged', 'together');
      await g.randomWrites(10, 16 * KiB);
      await g.advance(3000);
      const listed = g.replication.checkpoints();
      assert.ok(listed.length >= 3, `a tagged and auto checkpoints are listed (${listed.length})`);
      for (const journal of g.journals()) {
        assert.deepEqual(journal.checkpoints(), listed, `VM '${journal.vmId}' lists the group's checkpoints with identical fields`);
      }
      assert.equal(await g.verifyRetained(), listed.length);
    },
  },

  // ---- J3 cadence -----------------------------------------------------------------------------
  {
    id: 'J3.1',
    title: 'auto checkpoints every checkpointIntervalMs at the default of 5000 ms: count and spacing',
    needs: ['writeTap'],
    async run(ctx) {
      const g = await ctx.group({ vms: [{ name: 'j3-default', volumes: [{ sizeBytes: 256 * KiB }] }] });
      assert.equal(g.settings.checkpointIntervalMs, 5000, 'the default interval');
      await checkCadence(ctx, g, 5000, ctx.virtualClock ? 12 : 2);
    },
  },
  {
    id: 'J3.2',
    title: 'auto checkpoints every 100 ms (the shortest supported interval) with writes in between: count and spacing',
    needs: ['writeTap'],
    async run(ctx) {
      const interval = ctx.atLeastMinInterval(100); // change tracking: the platform's shortest cycle
      const g = await ctx.group({ settings: { checkpointIntervalMs: interval }, vms: [{ name: 'j3-fast', volumes: [{ sizeBytes: 256 * KiB }] }] });
      await checkCadence(ctx, g, interval, ctx.virtualClock ? 50 : 10);
    },
  },
  {
    id: 'J3.3',
    title: 'a tagged checkpoint to two groups at once has the same timestamp and tag in both, and both images equal the oracle',
    needs: ['writeTap'],
    async run(ctx) {
      const red = await ctx.group({ groupId: 'g-red', autoCheckpoints: false, vms: [{ name: 'j3-red', volumes: [{ sizeBytes: 512 * KiB }] }] });
      const blue = await ctx.group({
        groupId: 'g-blue', autoCheckpoints: false,
        vms: [{ name: 'j3-blue-1', volumes: [{ sizeBytes: 512 * KiB }] }, { name: 'j3-blue-2', volumes: [{ sizeBytes: 256 * KiB, sectorSize: ctx.largeSector }] }],
      });
      for (let round = 0; round < 3; round++) {
        await Promise.all([red.randomWrites(20, 16 * KiB), blue.randomWrites(20, 16 * KiB)]);
        const snapshot = ctx.oracle.snapshot();
        const tag = `release-${round}`;
        const [cpRed, cpBlue] = await cutCheckpoint([red.replication, blue.replication], 'tagged', tag, ctx.harness.clock.now());
        red.adopt(cpRed, snapshot);
        blue.adopt(cpBlue, snapshot);
        assert.equal(cpRed.timestamp, cpBlue.timestamp, 'one timestamp for both groups');
        assert.deepEqual([cpRed.tag, cpBlue.tag, cpRed.kind, cpBlue.kind], [tag, tag, 'tagged', 'tagged']);
        assert.deepEqual([cpRed.groupId, cpBlue.groupId], ['g-red', 'g-blue']);
        for (const [g, cp] of [[red, cpRed], [blue, cpBlue]] as const) {
          assert.ok(g.replication.checkpoints().some((c) => c.id === cp.id), `group '${g.groupId}' lists '${cp.id}'`);
          for (const journal of g.journals()) assert.deepEqual(journal.getCheckpoint(cp.id), cp);
          await g.verify(cp.id);
        }
      }
    },
  },
  {
    id: 'J3.4',
    title: 'a VSS checkpoint through the consistency agent is kind \'vss\', equals the oracle, and leaves no guest frozen',
    needs: ['writeTap', 'consistencyAgent'],
    async run(ctx) {
      const agent = ctx.harness.consistencyAgent;
      assert.ok(agent, 'capabilities.consistencyAgent is true but the harness has no consistencyAgent');
      const g = await ctx.group({
        withAgent: true, autoCheckpoints: false,
        vms: [{ name: 'j3-app', volumes: [{ sizeBytes: 512 * KiB }] }, { name: 'j3-other', volumes: [{ sizeBytes: 512 * KiB }] }],
      });
      const [app, other] = g.vms;
      assert.ok(agent.handles(app.id), `agent '${agent.name}' handles the protected VM '${app.id}'`);
      for (let round = 0; round < 2; round++) {
        await g.randomWrites(20, 16 * KiB);
        const snapshot = ctx.oracle.snapshot();
        const cp = await g.replication.vssCheckpoint(app.id, `app-consistent-${round}`);
        g.adopt(cp, snapshot);
        assert.equal(cp.kind, 'vss');
        assert.equal(cp.tag, `app-consistent-${round}`);
        // A frozen guest never completes a write; on a virtual clock nothing else would ever unfreeze it.
        for (const vm of [app, other]) {
          await withRealTimeout(g.write(vm.id, vm.volumes[0].id, 0, ctx.random.bytes(4096)), 5000,
            `a guest write to VM '${vm.id}' did not complete within 5 s of the VSS checkpoint: the guest was left frozen`);
        }
        await g.verify(cp.id);
        const after = await g.cut('tagged', `after-vss-${round}`);
        await g.verify(after.id);
      }
    },
  },
  {
    id: 'J3.5',
    title: 'settings failing the schema, and a group with no or duplicate VMs, are refused with a ValidationError naming the field',
    needs: ['writeTap'],
    async run(ctx) {
      const bad: [Record<string, unknown>, string][] = [
        [{ checkpointIntervalMs: 50 }, 'checkpointIntervalMs'],
        [{ checkpointIntervalMs: '5000' }, 'checkpointIntervalMs'],
        [{ journalHistoryHours: 0 }, 'journalHistoryHours'],
        [{ journal: { hardLimit: { mb: -1 } } }, 'journal.hardLimit'],
        [{ journal: { hardLimit: { mb: 1 }, warningThreshold: { mb: 2 } } }, 'journal.warningThreshold'],
        [{ retention: 3 }, 'retention'],
      ];
      for (const [input, field] of bad) {
        assert.throws(() => parseProtectionGroupSettings({ name: 'bad', ...input }), (e: unknown) => {
          assertValidationError(e, field, `settings ${JSON.stringify(input)}`);
          return true;
        });
      }
      const vm = await ctx.harness.createVm({ name: 'j3-settings', volumes: [{ sizeBytes: 256 * KiB }] });
      const storageBefore = await ctx.harness.recoveryStorage.list('');
      const base = {
        groupId: 'g-refused', settings: parseProtectionGroupSettings({ name: 'ok' }), hypervisor: ctx.harness.hypervisor,
        storage: ctx.harness.recoveryStorage, clock: ctx.harness.clock,
      };
      for (const vmIds of [[], [vm.id, vm.id]]) {
        await assert.rejects(LocalReplication.start({ ...base, vmIds }), (e: unknown) => {
          // Not schema input: the field is named in `field`, the message speaks of VMs.
          assertValidationError(e, 'vmIds', `a group of VMs ${JSON.stringify(vmIds)}`, false);
          return true;
        });
      }
      assert.deepEqual(await ctx.harness.recoveryStorage.list(''), storageBefore, 'a refused group leaves recovery storage untouched');
    },
  },

  // ---- J4 history -------------------------------------------------------------------------------
  {
    id: 'J4.1',
    title: 'checkpoints leave FIFO within one second of passing journalHistoryHours; trimmed ids say so; the oldest retained recovers',
    needs: ['writeTap'],
    async run(ctx) {
      // A minute of history on a virtual clock; a real clock gets three seconds so the case stays short.
      const historyHours = ctx.virtualClock ? 1 / 60 : 3 / 3600;
      const duration = ctx.virtualClock ? 150_000 : 8_000;
      const slack = ctx.virtualClock ? 0 : 1000;
      const g = await ctx.group({
        settings: { checkpointIntervalMs: ctx.atLeastMinInterval(500), journalHistoryHours: historyHours },
        vms: [{ name: 'j4', volumes: [{ sizeBytes: 512 * KiB }, { sizeBytes: 256 * KiB, sectorSize: ctx.largeSector }] }],
      });
      const historyMs = historyHours * 3_600_000;
      const clock = ctx.harness.clock;
      const trims: { at: number; event: TrimEvent }[] = [];
      for (const journal of g.journals()) journal.on('trimmed', (event) => trims.push({ at: clock.now(), event }));
      const trimmedIds = new Set<string>();
      const end = clock.now() + duration;
      for (let step = 0; clock.now() < end; step++) {
        await g.randomWrites(2, 8 * KiB);
        await g.advance(250);
        const now = clock.now();
        const listed = g.replication.checkpoints();
        const listedIds = new Set(listed.map((c) => c.id));
        const seen = g.seenCheckpoints();
        if (seen.length === 0) continue;
        const firstKept = seen.findIndex((c) => listedIds.has(c.id));
        assert.ok(firstKept >= 0, `the newest checkpoint is always retained (listed: ${[...listedIds].join(', ') || 'none'})`);
        assert.ok(seen.slice(firstKept).every((c) => listedIds.has(c.id)), 'trimming is first-in-first-out: only the oldest checkpoints leave');
        const oldest = listed[0];
        if (listed.length > 1) {
          assert.ok(oldest.timestamp >= now - historyMs - slack,
            `the oldest retained checkpoint '${oldest.id}' is ${now - oldest.timestamp - historyMs} ms past the ${historyMs} ms history window`);
        }
        if (firstKept > 0) {
          const before = seen[firstKept - 1];
          const leftAgo = now - (before.timestamp + historyMs);
          assert.ok(leftAgo > 0 && leftAgo < 1000 + slack, `the checkpoint before the oldest ('${before.id}') left the window ${leftAgo} ms ago (want 0 < t < 1000)`);
        }
        for (const c of seen.slice(0, firstKept)) trimmedIds.add(c.id);
        if (step % 100 === 99) await g.verify(oldest.id);
      }
      assert.ok(trims.length > 0 && trimmedIds.size > 0, `some checkpoints were trimmed (observed ${trims.length} trim events, ${trimmedIds.size} checkpoints gone)`);
      for (const { at, event } of trims) {
        assert.equal(event.reason, 'history', 'nothing but history trims a journal far below its size limit');
        for (const c of event.checkpoints) {
          const expiredFor = at - (c.timestamp + historyMs);
          assert.ok(expiredFor > 0, `checkpoint '${c.id}' was trimmed ${-expiredFor} ms before it left the history window`);
          assert.ok(expiredFor <= 1000 + slack, `checkpoint '${c.id}' was trimmed ${expiredFor} ms after it left the history window (want ≤ 1000)`);
        }
      }
      const journal = g.journal(g.vms[0].id);
      for (const id of [...trimmedIds].filter((_, i, all) => i === 0 || i === all.length - 1)) {
        assert.throws(() => journal.getCheckpoint(id), (e: unknown) => assertTyped(e, 'CheckpointTrimmedError', `getCheckpoint of trimmed '${id}'`));
        await assert.rejects(journal.openImage(id), (e: unknown) => assertTyped(e, 'CheckpointTrimmedError', `openImage of trimmed '${id}'`));
      }
      await g.verify(g.replication.checkpoints()[0].id);
      assert.ok(await g.verifyRetained() > 0);
    },
  },

  // ---- J5 size --------------------------------------------------------------------------------
  {
    id: 'J5.1',
    title: 'a small hard limit: usage never exceeds it, a warning event fires past the threshold, history status follows 85 % / 75 %, images stay exact',
    needs: ['writeTap'],
    async run(ctx) {
      const clock = ctx.harness.clock;
      const g = await ctx.group({
        settings: { checkpointIntervalMs: 1000, journal: { hardLimit: { mb: 2 }, warningThreshold: { mb: 1.5 } } },
        vms: [{ name: 'j5', volumes: [{ sizeBytes: 4 * MiB }, { sizeBytes: 1 * MiB, sectorSize: ctx.largeSector }] }],
      });
      const journal = g.journal(g.vms[0].id);
      const hard = 2 * MiB;
      const warning = 1.5 * MiB;
      const warnings: { usedBytes: number; warningBytes: number }[] = [];
      const sizeTrims: TrimEvent[] = [];
      journal.on('warning', (w) => warnings.push(w));
      journal.on('trimmed', (e) => { if (e.reason === 'size') sizeTrims.push(e); });
      const statuses = new Set<string>();
      let peak = 0;
      // The history a journal can hold grows from its first checkpoint.
      let firstCheckpointAt: number | undefined;
      const sample = (): JournalStats => {
        const s = journal.stats();
        assert.equal(s.hardLimitBytes, hard, 'the hard limit in bytes is the configured MB');
        assert.ok(s.usedBytes <= s.hardLimitBytes, `journal holds ${s.usedBytes} bytes, above its hard limit of ${s.hardLimitBytes}`);
        peak = Math.max(peak, s.usedBytes);
        return s;
      };
      // A minute of workload: long enough for the limit to force history below 75 % of the journal's age.
      const steps = 240;
      for (let step = 0; step < steps; step++) {
        for (let i = 0; i < 5; i++) {
          await g.randomWrite(16 * KiB);
          sample();
        }
        await g.advance(250);
        const s = sample();
        const now = clock.now();
        if (!s.oldestCheckpoint) {
          assert.equal(sizeTrims.length, 0, 'size trimming never drops the newest checkpoint');
          continue;
        }
        firstCheckpointAt ??= s.oldestCheckpoint.timestamp;
        const actual = now - s.oldestCheckpoint.timestamp;
        const possible = Math.min(s.configuredHistoryMs, now - firstCheckpointAt);
        const ratio = possible <= 0 ? 1 : actual / possible;
        // Before the limit bites, a young journal's status reflects only its first interval without a
        // checkpoint; what this case is after is the status once size forces history short.
        if (sizeTrims.length > 0) statuses.add(s.historyStatus);
        if (ctx.virtualClock) {
          assert.equal(s.actualHistoryMs, actual, 'actual history is now − the oldest retained checkpoint');
          assert.equal(s.historyStatus, ratio < 0.75 ? 'error' : ratio < 0.85 ? 'warning' : 'ok',
            `history status at ${(ratio * 100).toFixed(1)} % of the history the journal could have`);
        } else {
          assert.ok(Math.abs(s.actualHistoryMs - actual) < 250, `actual history is now − the oldest retained checkpoint: expected ${actual} ms ± 250, observed ${s.actualHistoryMs} ms`);
        }
      }
      assert.ok(peak > warning, `the workload filled the journal past its warning threshold (peak ${peak})`);
      assert.ok(warnings.length >= 1, `a warning event when usage crossed the warning threshold of ${warning} bytes (peak ${peak}; observed no event)`);
      for (const w of warnings) assert.ok(w.usedBytes >= warning && w.warningBytes === warning, `warning event ${JSON.stringify(w)}`);
      assert.ok(sizeTrims.length > 0, `the oldest checkpoints were promoted to stay under the hard limit (observed no size trim; peak ${peak} bytes of a ${hard}-byte hard limit)`);
      assert.ok(statuses.has('warning') && statuses.has('error'), `history status went through warning and error (saw ${[...statuses].join(', ')})`);
      assert.ok(await g.verifyRetained() > 0);
    },
  },

  // ---- J6 durability --------------------------------------------------------------------------
  {
    id: 'J6.1',
    title: 'every listed checkpoint survives a power cut of recovery storage (several seeds) and equals the oracle; replication continues',
    needs: ['writeTap', 'faultStorageCrash'],
    async run(ctx) {
      const g = await ctx.group({
        autoCheckpoints: false,
        vms: [
          { name: 'j6-a', volumes: [{ sizeBytes: 1 * MiB }, { sizeBytes: 512 * KiB, sectorSize: ctx.largeSector }] },
          { name: 'j6-b', volumes: [{ sizeBytes: 1 * MiB }] },
        ],
      });
      for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
        await g.randomWrites(40, 16 * KiB);
        await g.cut('tagged', `seed-${seed}-a`);
        await g.randomWrites(40, 16 * KiB);
        const last = await g.cut('tagged', `seed-${seed}-b`);
        const lastSnapshot = g.seen.get(last.id)!.snapshot!;
        // Written after the last checkpoint and never flushed: the crash may keep, lose or tear them.
        await g.randomWrites(15, 16 * KiB);
        const listed = g.replication.checkpoints();
        const perVm = g.journals().map((j) => j.checkpoints());

        await ctx.harness.crashRecoveryStorage(seed);
        await g.restart();

        assert.deepEqual(g.replication.checkpoints(), listed, `seed ${seed}: exactly the checkpoints listed before the crash are listed after it`);
        g.journals().forEach((j, i) => {
          assert.deepEqual(j.checkpoints(), perVm[i], `seed ${seed}: VM '${j.vmId}' lists the same checkpoints`);
          assert.equal(j.damage, undefined, `seed ${seed}: a power cut tears at most the tail, it is not damage (${j.damage?.message ?? ''})`);
        });
        for (const cp of listed) await g.verify(cp.id);

        // What the crash may have lost is the appliance's to resync: rewrite every block touched since the last checkpoint.
        for (const r of ctx.oracle.dirtySince(lastSnapshot)) await g.write(r.vmId, r.volumeId, r.offset, ctx.oracle.read(r.vmId, r.volumeId, r.offset, r.length));
        await g.randomWrites(20, 16 * KiB);
        const resumed = await g.cut('tagged', `seed-${seed}-resumed`);
        await g.verify(resumed.id);
      }
      assert.equal(await g.verifyRetained(), 8 * 3);
    },
  },

  // ---- J7 point-in-time images ------------------------------------------------------------------
  {
    id: 'J7.1',
    title: 'images at the oldest, a middle and the newest checkpoint of a journal with thousands of writes read byte-exact while writes, checkpoints and trimming go on',
    needs: ['writeTap'],
    async run(ctx) {
      const historyHours = ctx.virtualClock ? 30 / 3600 : 5 / 3600;
      const g = await ctx.group({
        settings: { checkpointIntervalMs: 1000, journalHistoryHours: historyHours },
        vms: [{ name: 'j7', volumes: [{ sizeBytes: 2 * MiB }, { sizeBytes: 1 * MiB, sectorSize: ctx.largeSector }] }],
      });
      const historyMs = historyHours * 3_600_000;
      const vm = g.vms[0];
      const journal = g.journal(vm.id);
      const phase1 = ctx.virtualClock ? 25 : 4;
      for (let s = 0; s < phase1; s++) {
        await g.randomWrites(120, 8 * KiB);
        await g.advance(1000);
      }
      assert.ok(ctx.oracle.writeCount >= 100 * phase1, `the journal holds thousands of writes (${ctx.oracle.writeCount})`);
      const listed = g.replication.checkpoints();
      assert.ok(listed.length >= 3, `several checkpoints (${listed.length})`);
      const oldest = listed[0];
      const middle = listed[Math.floor(listed.length / 2)];
      const newest = listed[listed.length - 1];
      const started = performance.now();
      const imageOldest = await g.openImage(vm.id, oldest.id);
      const openMs = performance.now() - started;
      assert.ok(openMs < 1000, `opening an image took ${openMs.toFixed(0)} ms: it must not replay the journal`);
      const imageMiddle = await g.openImage(vm.id, middle.id);
      const imageMiddle2 = await g.openImage(vm.id, middle.id);
      const imageNewest = await g.openImage(vm.id, newest.id);
      const expected = (cp: Checkpoint): VmSnapshot => g.seen.get(cp.id)!.snapshot!.vm(vm.id);
      let closedOldest = false;
      let closedMiddle = false;
      const checkOpen = async (when: string): Promise<void> => {
        for (const [image, cp] of [[imageOldest, oldest], [imageMiddle, middle], [imageMiddle2, middle], [imageNewest, newest]] as const) {
          if (image === imageOldest && closedOldest) continue;
          if (image === imageMiddle && closedMiddle) continue;
          await assertImageExact(image, expected(cp), vm, ctx, `${when}: image at '${cp.id}'`);
        }
      };
      await checkOpen('just opened');

      // Replication goes on well past the history window while the images are open.
      const phase2 = ctx.virtualClock ? 40 : 8;
      for (let s = 0; s < phase2; s++) {
        await g.randomWrites(40, 8 * KiB);
        await g.advance(1000);
        if (s % 20 === 19) await checkOpen(`after ${s + 1} more seconds of replication`);
      }
      assert.equal(g.replication.checkpoints()[0].id, oldest.id, 'an open image keeps its checkpoint from being trimmed');
      await checkOpen('after replication went on');

      // Closing the oldest image lets trimming run up to the next open one, which keeps reading exactly.
      imageOldest.close();
      closedOldest = true;
      await assert.rejects(imageOldest.read(vm.volumes[0].id, 0, 512), (e: unknown) => assertTyped(e, 'ClosedError', 'a read from a closed image'));
      await g.randomWrites(20, 8 * KiB);
      await g.advance(1000);
      assert.equal(g.replication.checkpoints()[0].id, middle.id, 'trimming stops at the oldest checkpoint with an open image');
      assert.throws(() => journal.getCheckpoint(oldest.id), (e: unknown) => assertTyped(e, 'CheckpointTrimmedError', 'the closed image\'s checkpoint'));
      await checkOpen('after trimming up to the middle image');

      imageMiddle.close();
      closedMiddle = true;
      await g.advance(1000);
      assert.equal(g.replication.checkpoints()[0].id, middle.id, 'a second image of the same checkpoint still pins it');
      await checkOpen('with one of two images of the middle checkpoint closed');
      imageMiddle2.close();
      imageNewest.close();
      await g.randomWrites(20, 8 * KiB);
      await g.advance(1000);
      const now = ctx.harness.clock.now();
      assert.ok(g.replication.checkpoints()[0].timestamp >= now - historyMs - (ctx.virtualClock ? 0 : 1000), `with every image closed the history window applies again: the oldest checkpoint is ${now - g.replication.checkpoints()[0].timestamp} ms old, the window ${historyMs} ms`);
      assert.ok(await g.verifyRetained() > 0);
    },
  },
  {
    id: 'J7.2',
    title: 'several images of several VMs read exactly while guest writes and checkpoints are in flight',
    needs: ['writeTap'],
    async run(ctx) {
      const g = await ctx.group({
        autoCheckpoints: false,
        vms: [{ name: 'j7-x', volumes: [{ sizeBytes: 1 * MiB }] }, { name: 'j7-y', volumes: [{ sizeBytes: 512 * KiB, sectorSize: ctx.largeSector }] }],
      });
      await g.randomWrites(150, 16 * KiB);
      const first = await g.cut('tagged', 'first');
      await g.randomWrites(150, 16 * KiB);
      const second = await g.cut('tagged', 'second');
      const images: [PointInTimeImage, VmSnapshot, string][] = [];
      for (const cp of [first, second]) {
        for (const vm of g.vms) images.push([await g.openImage(vm.id, cp.id), g.seen.get(cp.id)!.snapshot!.vm(vm.id), `image of '${vm.id}' at '${cp.id}'`]);
      }
      await Promise.all([
        g.randomWrites(200, 16 * KiB),
        (async () => {
          for (let i = 0; i < 5; i++) {
            await turns(3);
            g.adopt(await g.replication.checkpoint('tagged', `busy-${i}`), 'racing');
          }
        })(),
        ...images.map(([image, snapshot, label]) => assertImageEquals(image, snapshot, `${label} during writes`)),
      ]);
      for (const [image, snapshot, label] of images) await assertImageEquals(image, snapshot, `${label} after writes`);
      const last = await g.cut('tagged', 'last');
      await g.verify(last.id);
    },
  },
  {
    id: 'J7.3',
    title: 'an unknown checkpoint id fails with CheckpointNotFoundError; reads outside a volume, of an unknown volume or a closed image fail typed',
    needs: ['writeTap'],
    async run(ctx) {
      const g = await ctx.group({ autoCheckpoints: false, vms: [{ name: 'j7-bad', volumes: [{ sizeBytes: 512 * KiB }] }] });
      const vm = g.vms[0];
      const volume = vm.volumes[0];
      await g.randomWrites(20, 16 * KiB);
      const cp = await g.cut('tagged', 'only');
      const journal = g.journal(vm.id);
      const stats = stableStats(journal);
      assert.throws(() => journal.getCheckpoint('no-such-checkpoint'), (e: unknown) => assertTyped(e, 'CheckpointNotFoundError', 'getCheckpoint of an unknown id'));
      await assert.rejects(journal.openImage('no-such-checkpoint'), (e: unknown) => assertTyped(e, 'CheckpointNotFoundError', 'openImage of an unknown id'));
      const image = await g.openImage(vm.id, cp.id);
      await assert.rejects(image.read(volume.id, volume.sizeBytes - 512, 1024), (e: unknown) => assertTyped(e, 'VolumeRangeError', 'a read past the end'));
      await assert.rejects(image.read(volume.id, -1, 10), (e: unknown) => assertTyped(e, 'VolumeRangeError', 'a read at a negative offset'));
      await assert.rejects(image.read('no-such-volume', 0, 512), (e: unknown) => assertTyped(e, 'UnknownVolumeError', 'a read of an unknown volume'));
      image.close();
      await assert.rejects(image.read(volume.id, 0, 512), (e: unknown) => assertTyped(e, 'ClosedError', 'a read from a closed image'));
      assert.deepEqual(stableStats(journal), stats, 'bad reads change nothing');
      await g.verify(cp.id);
    },
  },
];

// ---- helpers ------------------------------------------------------------------------------------

/**
 * Auto checkpoints over `periods` intervals: half in one long advance, half step by step with writes
 * between checkpoints. Count and spacing are exact on a virtual clock; a real one may be off by one.
 */
async function checkCadence(ctx: CaseContext, g: GroupRig, interval: number, periods: number): Promise<void> {
  const t0 = ctx.harness.clock.now();
  await g.randomWrites(5, 8 * KiB);
  const half = Math.floor(periods / 2);
  await g.advance(half * interval);
  for (let i = half; i < periods; i++) {
    await g.advance(interval / 2);
    await g.randomWrites(2, 8 * KiB);
    await g.advance(interval - interval / 2);
  }
  const autos = g.seenCheckpoints().filter((c) => c.kind === 'auto');
  if (ctx.virtualClock) {
    assert.equal(autos.length, periods, `${periods} auto checkpoints in ${periods} intervals of ${interval} ms`);
    autos.forEach((c, k) => assert.equal(c.timestamp - t0, (k + 1) * interval, `auto checkpoint ${k + 1} is ${interval} ms after the one before`));
  } else {
    assert.ok(Math.abs(autos.length - periods) <= 1, `${autos.length} auto checkpoints in ${periods} intervals of ${interval} ms (±1 on a real clock)`);
  }
  assert.ok(await g.verifyRetained() > 0);
}

/** Full-volume hashes, then unaligned reads across blocks, each compared with a verified whole read. */
async function assertImageExact(image: PointInTimeImage, expected: VmSnapshot, vm: VmInfo, ctx: CaseContext, label: string): Promise<void> {
  await assertImageEquals(image, expected, label);
  for (const volume of vm.volumes) {
    const whole = await image.read(volume.id, 0, volume.sizeBytes);
    await assertImageEquals({ read: async (_id, offset, length) => whole.subarray(offset, offset + length) }, { vmId: vm.id, volumes: expected.volumes.filter((v) => v.volumeId === volume.id) }, `${label}, one whole-volume read`);
    for (let i = 0; i < 20; i++) {
      const offset = ctx.random.int(0, volume.sizeBytes - 1);
      const length = ctx.random.int(0, Math.min(200 * KiB, volume.sizeBytes - offset));
      const part = await image.read(volume.id, offset, length);
      assert.ok(part.equals(whole.subarray(offset, offset + length)), `${label}: a ${length}-byte read at ${offset} of volume '${volume.id}' differs from the same bytes of a whole read`);
    }
  }
}

/** Journal statistics without the fields that move with the clock alone. */
function stableStats(journal: Journal): Omit<JournalStats, 'actualHistoryMs' | 'historyStatus'> {
  const { actualHistoryMs: _a, historyStatus: _h, ...rest } = journal.stats();
  return rest;
}

/** `present` when the bytes are the chain's write, `absent` when zeros; anything else is a torn write. */
function presence(bytes: Buffer, written: Buffer, label: string): boolean {
  if (bytes.equals(written)) return true;
  assert.ok(bytes.every((b) => b === 0), `${label}: the image holds neither the write nor the zeros before it (a torn write)`);
  return false;
}

/**
 * Checks an error by name and code rather than `instanceof`, so an adapter that bundles its own copy
 * of @opencdp/core is judged by what it throws, not by which module instance made the class.
 */
function assertTyped(e: unknown, name: string, what: string): true {
  assert.ok(e instanceof Error, `${what}: expected a ${name}, got ${String(e)}`);
  assert.equal(e.name, name, `${what}: expected a ${name}, got ${e.name}: ${e.message}`);
  assert.equal(typeof (e as { code?: unknown }).code, 'string', `${what}: a ${name} carries a code`);
  return true;
}

async function assertTypedRejection(p: Promise<unknown>, name: string, what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => assertTyped(e, name, what));
}

/** A ValidationError whose `field` is `field` (or inside it); with `inMessage`, the message names it too. */
function assertValidationError(e: unknown, field: string, what: string, inMessage = true): void {
  assertTyped(e, 'ValidationError', what);
  const named = (e as { field?: unknown }).field;
  assert.ok(typeof named === 'string' && (named === field || named.startsWith(`${field}.`)), `${what}: the error names field '${field}' (got ${String(named)})`);
  if (inMessage) assert.ok((e as Error).message.includes(field), `${what}: the message names '${field}': ${(e as Error).message}`);
}

/** Lets `n` macrotask turns pass, so racing work interleaves at different points. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Fails after `ms` of real time (a virtual clock never moves on its own). */
async function withRealTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new assert.AssertionError({ message })), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}
