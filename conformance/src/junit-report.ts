// The conformance report as JUnit XML, the format CI systems (GitLab, Jenkins, GitHub test reporters) show
// per test: one <testsuite> per conformance suite, one <testcase> per case, skips with their reasons and
// failures with their expected and observed values. Built with fast-xml-builder, which escapes text.
import XMLBuilder from 'fast-xml-builder';
import type { ConformanceReport } from './report-model.js';

/** Characters XML 1.0 cannot hold at all (not even escaped): stripped from every string. */
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

function clean(text: string): string {
  return text.replace(NOT_XML, '');
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

export function toJUnitXml(report: ConformanceReport): string {
  const adapter = clean(report.adapter);
  const suites = [...new Set(report.cases.map((c) => c.suite))];
  const total = (ms: number[]): number => ms.reduce((a, b) => a + b, 0);
  const doc = {
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    testsuites: {
      '@_name': `OpenCDP conformance: ${adapter}`,
      '@_tests': report.cases.length,
      '@_failures': report.failed,
      '@_skipped': report.skipped,
      '@_errors': 0,
      '@_time': seconds(total(report.cases.map((c) => c.durationMs))),
      testsuite: suites.map((suite) => {
        const cases = report.cases.filter((c) => c.suite === suite);
        return {
          '@_name': `${adapter}.${suite}`,
          '@_tests': cases.length,
          '@_failures': cases.filter((c) => c.state === 'failed').length,
          '@_skipped': cases.filter((c) => c.state === 'skipped').length,
          '@_errors': 0,
          '@_time': seconds(total(cases.map((c) => c.durationMs))),
          testcase: cases.map((c) => ({
            '@_classname': `opencdp.conformance.${adapter}.${suite}`,
            '@_name': clean(`${c.id} ${c.title}`),
            '@_time': seconds(c.durationMs),
            ...(c.state === 'failed' ? { failure: { '@_message': clean((c.reason ?? '').split('\n')[0]), '#text': clean(c.reason ?? '') } } : {}),
            ...(c.state === 'skipped' ? { skipped: { '@_message': clean(c.reason ?? '') } } : {}),
          })),
        };
      }),
    },
  };
  const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: true, suppressEmptyNode: true });
  return `${builder.build(doc) as string}`;
}
