import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeFileAtomic, writeJsonAtomic } from './atomic-file';

describe('atomic-file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ec-atomic-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the content and leaves no temp files behind', () => {
    const target = join(dir, 'sub', 'state.json');
    writeFileAtomic(target, 'one');
    writeFileAtomic(target, 'two');
    assert.equal(readFileSync(target, 'utf8'), 'two');
    assert.deepEqual(readdirSync(join(dir, 'sub')), ['state.json']);
  });

  it('reads back validated JSON and reports missing files as undefined', () => {
    const schema = z.object({ n: z.number() });
    writeJsonAtomic(join(dir, 'a.json'), { n: 3 });
    assert.deepEqual(readJsonFile(join(dir, 'a.json'), schema), { n: 3 });
    assert.equal(readJsonFile(join(dir, 'missing.json'), schema), undefined);
  });

  it('names the file and the field when the content is corrupt or of the wrong shape', () => {
    const schema = z.object({ n: z.number() });
    writeFileSync(join(dir, 'bad.json'), '{"n": 3');
    assert.throws(() => readJsonFile(join(dir, 'bad.json'), schema), /bad\.json: not valid JSON/);
    writeFileSync(join(dir, 'wrong.json'), '{"n": "x"}');
    assert.throws(() => readJsonFile(join(dir, 'wrong.json'), schema), /wrong\.json: n:/);
  });
});
