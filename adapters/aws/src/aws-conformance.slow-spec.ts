// The conformance suites on the AWS adapter, in this package's own mocha run: journal (J1–J7) with the
// recovery site's journals and replicas in S3 (real s3rver), and recovery (R1–R10) into AWS — EBS and
// EC2 SIMULATED on loopback — of groups protected on the fake data centre's write tap. Every recovered
// disk is compared block by block with the suite's oracle.
import { defineConformance } from '@opencdp/conformance';
import { createHarness } from './conformance-adapter.js';

/**
 * Cases that cannot pass yet, and why. Reverse protection protects the recovered EC2 instances back to
 * the original site; EC2 has no write splitter, so that needs the kernel's change-tracking capture mode
 * (EbsChangeTracking is ready for it), which is not in the kernel yet.
 */
const NOT_YET: Record<string, string> = {
  'R2.4': 'reverse protection from EC2 needs the kernel\'s change-tracking capture mode (not in the kernel yet)',
  'R3.2': 'reverse protection from EC2 needs the kernel\'s change-tracking capture mode (not in the kernel yet)',
};

describe('AWS adapter conformance', () => {
  beforeEach(function () {
    const id = /^(R\d+\.\d+) /.exec(this.currentTest?.title ?? '')?.[1];
    if (id && NOT_YET[id]) {
      console.log(`      skipped ${id}: ${NOT_YET[id]}`);
      this.skip();
    }
  });

  // Cases run seconds each on an idle machine; a shared, busy CI machine gets a generous bound.
  defineConformance({ name: 'aws (S3 on s3rver, EBS/EC2 simulated)', createHarness, suites: ['journal', 'recovery'], timeoutMs: 600_000 });
});
