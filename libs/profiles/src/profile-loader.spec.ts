import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  defaultProfilesDir,
  figurePaths,
  loadDeviceProfiles,
  parseDeviceProfile,
  ProfileLoadError,
} from '@edgecompress/profiles';

const dir = defaultProfilesDir();
assert.ok(dir, 'device-profiles/ not found');
const profiles = loadDeviceProfiles(dir);
const pi5 = JSON.parse(readFileSync(join(dir, 'raspberry-pi-5.json'), 'utf8')) as Record<
  string,
  unknown
>;

describe('shipped device profiles', () => {
  it('cover every required target', () => {
    const ids = profiles.map((p) => p.id);
    for (const id of [
      'jetson-nano',
      'jetson-orin-nano',
      'jetson-agx-orin',
      'raspberry-pi-4b',
      'raspberry-pi-5',
      'aws-graviton3-c7g',
      'aws-c6i',
      'aws-c7i',
      'aws-g4dn-t4',
      'aws-g5-a10g',
      'generic-x86-64',
      'generic-arm64',
    ]) {
      assert.ok(ids.includes(id), `missing ${id}`);
    }
  });

  it('name a source for every figure and have internally consistent peaks', () => {
    for (const p of profiles) {
      for (const path of figurePaths(p)) assert.ok(p.sources[path], `${p.id}: ${path}`);
      // Lower precision is never slower than higher precision on the same unit.
      for (const peak of [p.cpu.peakOpsPerSec, p.accelerator?.peakOpsPerSec].filter(
        (x) => x !== undefined,
      )) {
        assert.ok(peak.fp16 >= peak.fp32 && peak.int8 >= peak.fp32, p.id);
      }
      assert.ok(p.runtimes.onnxruntime.executionProviders.includes('cpu'), p.id);
    }
  });

  it('have exactly one generic fallback per architecture family', () => {
    const generic = profiles
      .filter((p) => p.generic)
      .map((p) => p.arch)
      .sort();
    assert.deepEqual(generic, ['arm64', 'x64']);
  });
});

describe('profile validation', () => {
  it('rejects a missing source, naming the figure', () => {
    const sources = { ...(pi5.sources as Record<string, string>) };
    delete sources['memory.bandwidthBytesPerSec'];
    const result = parseDeviceProfile({ ...pi5, sources }, 'x.json');
    assert.ok(!result.ok);
    assert.match(
      result.problems.join('\n'),
      /x\.json: sources\.memory\.bandwidthBytesPerSec: no source/,
    );
  });

  it('rejects wrong types, unknown fields, bad regexes and sources for nothing', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...pi5, cpu: { ...(pi5.cpu as object), cores: 'four' } }, /cpu\.cores/],
      [{ ...pi5, colour: 'red' }, /colour/],
      [
        { ...pi5, match: { arch: ['arm64'], board: '([' } },
        /match\.board: not a valid regular expression/,
      ],
      [
        { ...pi5, sources: { ...(pi5.sources as object), 'cpu.l2Cache': 'x'.repeat(5) } },
        /source names no figure/,
      ],
      [{ ...pi5, id: 'Raspberry Pi' }, /id/],
    ];
    for (const [value, pattern] of cases) {
      const result = parseDeviceProfile(value);
      assert.ok(!result.ok);
      assert.match(result.problems.join('\n'), pattern);
    }
  });
});

describe('loadDeviceProfiles on a broken directory', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'profiles-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('lists every problem with its file and loads nothing', () => {
    writeFileSync(join(tmp, 'raspberry-pi-5.json'), JSON.stringify(pi5));
    writeFileSync(join(tmp, 'copy.json'), JSON.stringify(pi5));
    writeFileSync(join(tmp, 'broken.json'), '{"id": ');
    writeFileSync(join(tmp, 'readme.txt'), 'ignored');
    assert.throws(
      () => loadDeviceProfiles(tmp),
      (err: unknown) => {
        assert.ok(err instanceof ProfileLoadError);
        const text = err.problems.join('\n');
        assert.match(text, /broken\.json: /);
        assert.match(text, /copy\.json: file name must be raspberry-pi-5\.json/);
        assert.match(text, /raspberry-pi-5\.json: id raspberry-pi-5 already defined in copy\.json/);
        return true;
      },
    );
  });

  it('rejects a path that is not a directory', () => {
    assert.throws(() => loadDeviceProfiles(join(tmp, 'missing')), ProfileLoadError);
  });
});
