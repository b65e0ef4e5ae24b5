// The JUnit report is well-formed whatever the case texts hold (markup, quotes, control characters).
import assert from 'node:assert/strict';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { toJUnitXml } from './junit-report.js';

describe('toJUnitXml', () => {
  it('escapes markup, strips characters XML cannot hold, and counts per suite', () => {
    const xml = toJUnitXml({
      adapter: 'acme<&>', passed: 1, failed: 1, skipped: 1, suites: {},
      cases: [
        { id: 'P1.1', title: 'a "quoted" <title> & more', suite: 'platform', state: 'passed', durationMs: 1500 },
        { id: 'J1.1', title: 't', suite: 'journal', state: 'failed', reason: 'line one \u0007bell\nline two < 3', durationMs: 20 },
        { id: 'J6.1', title: 't', suite: 'journal', state: 'skipped', reason: "faultStorageCrash: can't", durationMs: 0 },
      ],
    });
    assert.equal(XMLValidator.validate(xml), true, xml);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => ['testsuite', 'testcase'].includes(n) }).parse(xml) as {
      testsuites: { tests: string; failures: string; skipped: string; testsuite: { name: string; tests: string; failures: string; skipped: string; testcase: Record<string, unknown>[] }[] };
    };
    assert.deepEqual([doc.testsuites.tests, doc.testsuites.failures, doc.testsuites.skipped], ['3', '1', '1']);
    assert.deepEqual(doc.testsuites.testsuite.map((s) => [s.name, s.tests, s.failures, s.skipped]), [['acme<&>.platform', '1', '0', '0'], ['acme<&>.journal', '2', '1', '1']]);
    const [p] = doc.testsuites.testsuite[0].testcase;
    assert.deepEqual([p.name, p.time], ['P1.1 a "quoted" <title> & more', '1.500']);
    const failure = doc.testsuites.testsuite[1].testcase[0].failure as { message: string; '#text': string };
    assert.equal(failure.message, 'line one bell');
    assert.equal(failure['#text'], 'line one bell\nline two < 3');
  });
});
