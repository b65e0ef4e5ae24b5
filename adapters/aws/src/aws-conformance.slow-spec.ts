// The conformance suites on the AWS adapter, in this package's own mocha run: journal (J1–J7) with the
// recovery site's journals and replicas in S3 (real s3rver), and recovery (R1–R10) into AWS — EBS and
// EC2 SIMULATED on loopback — of groups protected on the fake data centre's write tap. Every recovered
// disk is compared block by block with the suite's oracle. The sync suite needs a splitter pipeline to
// AWS storage as well; it runs here too. Cases needing what EC2 lacks skip with the harness's reason.
import { defineConformance } from '@opencdp/conformance';
import { createHarness } from './conformance-adapter.js';

// Cases run seconds each on an idle machine; a shared, busy CI machine gets a generous bound.
defineConformance({ name: 'aws (S3 on s3rver, EBS/EC2 simulated)', createHarness, suites: ['journal', 'recovery'], timeoutMs: 600_000 });
