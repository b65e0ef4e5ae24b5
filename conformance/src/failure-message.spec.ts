// A failure in the report states what was expected and what was observed, whatever the assertion.
import assert, { AssertionError } from 'node:assert/strict';
import { ValidationError } from '@opencdp/core';
import { failureMessage } from './failure-message.js';

function thrown(fn: () => void): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

describe('failureMessage', () => {
  it('gives node\'s own equality failures their values on one line', () => {
    assert.equal(failureMessage(thrown(() => assert.equal(8, 12))), 'expected 12, observed 8');
    assert.equal(failureMessage(thrown(() => assert.deepEqual([1, 2], [1, 3]))), 'expected [ 1, 3 ], observed [ 1, 2 ]');
    assert.equal(failureMessage(thrown(() => assert.match('abc', /x/))), 'expected to match /x/, observed \'abc\'');
  });

  it('keeps a custom message and adds the values, dropping the diff node appends', () => {
    const m = failureMessage(thrown(() => assert.equal(8, 12, '12 auto checkpoints in 12 intervals of 5000 ms')));
    assert.equal(m, '12 auto checkpoints in 12 intervals of 5000 ms — expected 12, observed 8');
    const d = failureMessage(thrown(() => assert.deepEqual([[1, 512]], [[1, 4096]], 'disks as [size, sector]')));
    assert.equal(d, 'disks as [size, sector] — expected [ [ 1, 4096 ] ], observed [ [ 1, 512 ] ]');
  });

  it('leaves messages that carry their own values alone: assert.ok, assert.fail, the oracle\'s', () => {
    assert.equal(failureMessage(thrown(() => assert.ok(false, 'the tap closed (observed 0 calls)'))), 'the tap closed (observed 0 calls)');
    assert.equal(failureMessage(thrown(() => assert.fail('waited 60000 ms of clock time for x'))), 'waited 60000 ms of clock time for x');
    const oracle = new AssertionError({ message: 'block at 0 (sha256 expected ab…, got cd…)', expected: 'ab', actual: 'cd', operator: 'sha256' });
    assert.equal(failureMessage(oracle), 'block at 0 (sha256 expected ab…, got cd…)');
  });

  it('shortens huge values, names typed errors by type and code, and says where other errors came from', () => {
    const big = failureMessage(thrown(() => assert.deepEqual('x'.repeat(5000), 'y')));
    assert.ok(big.length < 1000 && /more characters/.test(big), big.slice(0, 120));
    assert.equal(failureMessage(new ValidationError('bad field', 'f')), 'ValidationError (VALIDATION): bad field');
    const typeError = new TypeError('Cannot read properties of undefined (reading \'id\')');
    typeError.stack = `TypeError: x\n    at run (file:///repo/conformance/dist/recovery-suite.js:470:31)\n    at async x (file:///repo/node_modules/mocha/lib/runner.js:1:1)`;
    assert.equal(failureMessage(typeError), 'TypeError: Cannot read properties of undefined (reading \'id\') (at conformance/dist/recovery-suite.js:470:31)');
    assert.equal(failureMessage('a string'), 'a string');
  });
});
