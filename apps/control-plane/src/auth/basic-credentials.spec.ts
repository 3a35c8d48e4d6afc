import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseBasicCredentials } from './basic-credentials';

const basic = (s: string) => `Basic ${Buffer.from(s, 'utf8').toString('base64')}`;

describe('parseBasicCredentials', () => {
  it('splits at the first colon, so a password may hold colons', () => {
    assert.deepEqual(parseBasicCredentials(basic('dev-1:se:cret')), {
      username: 'dev-1',
      password: 'se:cret',
    });
    assert.deepEqual(parseBasicCredentials(`basic ${basic('a:b').slice(6)}`), {
      username: 'a',
      password: 'b',
    });
  });

  it('refuses other schemes, bad base64 and a missing user or colon', () => {
    assert.equal(parseBasicCredentials('Bearer abc'), undefined);
    assert.equal(parseBasicCredentials('Basic not*base64'), undefined);
    assert.equal(parseBasicCredentials(basic('no-colon')), undefined);
    assert.equal(parseBasicCredentials(basic(':only-password')), undefined);
    assert.equal(parseBasicCredentials('Basic'), undefined);
  });
});
