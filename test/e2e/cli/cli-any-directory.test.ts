/**
 * `edgec` is run from wherever the user's files are, not only from the repository: relative
 * paths resolve against that directory and the TypeScript sources still find their modules.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { edgec } from './cli-run';

describe('edgec outside the repository', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ec-cli-cwd-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trains and exports with paths relative to its working directory', async () => {
    const version = await edgec(['--version'], {}, 60_000, dir);
    assert.equal(version.code, 0, version.stderr);
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as {
      version: string;
    };
    assert.match(version.stdout, new RegExp(pkg.version.replace(/\./g, '\\.')));

    const args = ['-m', 'small-cnn', '-d', 'synthetic', '-e', '1', '--limit-train', '64'];
    const trained = await edgec(['train', ...args, '-o', 'model.ecm'], {}, 120_000, dir);
    assert.equal(trained.code, 0, trained.stderr);
    assert.ok(existsSync(join(dir, 'model.ecm')));
    const exported = await edgec(
      ['export', '-m', 'model.ecm', '-o', 'model.onnx'],
      {},
      60_000,
      dir,
    );
    assert.equal(exported.code, 0, exported.stderr);
    const onnx = readFileSync(join(dir, 'model.onnx'));
    // an ONNX ModelProto opens with field 1 (ir_version, varint): tag byte 0x08
    assert.equal(onnx[0], 0x08);
    assert.match(exported.stdout, new RegExp(`${onnx.length} bytes`));
  });
});
