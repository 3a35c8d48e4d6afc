import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXAMPLE_HELLO } from '@edgecompress/protocol';
import {
  defaultProfilesDir,
  loadDeviceProfiles,
  matchProfile,
  rankProfiles,
  type DeviceFacts,
} from '@edgecompress/profiles';

const profiles = loadDeviceProfiles(defaultProfilesDir() as string);
const GB = 1e9;

const facts = (over: Partial<DeviceFacts> & { model?: string }): DeviceFacts => ({
  arch: over.arch ?? 'arm64',
  cpu: { model: over.model ?? 'Cortex-A72', cores: 4 },
  memory: over.memory ?? { totalBytes: 8 * GB },
  board: over.board,
  accelerators: over.accelerators ?? [],
});

describe('matchProfile', () => {
  it('takes the protocol hello facts as they are (Raspberry Pi 5 example)', () => {
    const match = matchProfile(EXAMPLE_HELLO.hardware, profiles);
    assert.equal(match?.profile.id, 'raspberry-pi-5');
    assert.deepEqual(match?.matched, ['arch', 'board']);
    assert.equal(match?.fallback, false);
  });

  const cases: Array<[string, DeviceFacts, string]> = [
    ['Pi 4 by board', facts({ board: 'Raspberry Pi 4 Model B Rev 1.5' }), 'raspberry-pi-4b'],
    [
      'Jetson Nano by device-tree model',
      facts({ board: 'NVIDIA Jetson Nano Developer Kit', model: 'Cortex-A57' }),
      'jetson-nano',
    ],
    [
      'Orin Nano',
      facts({ board: 'NVIDIA Jetson Orin Nano Developer Kit', model: 'Cortex-A78AE' }),
      'jetson-orin-nano',
    ],
    [
      'AGX Orin',
      facts({ board: 'Jetson AGX Orin Developer Kit', model: 'Cortex-A78AE' }),
      'jetson-agx-orin',
    ],
    [
      'Graviton3 by CPU model',
      facts({ model: 'Neoverse-V1', board: 'c7g.xlarge' }),
      'aws-graviton3-c7g',
    ],
    [
      'c6i by CPU model',
      facts({ arch: 'x64', model: 'Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz' }),
      'aws-c6i',
    ],
    [
      'c7i by CPU model',
      facts({ arch: 'x64', model: 'Intel(R) Xeon(R) Platinum 8488C' }),
      'aws-c7i',
    ],
    [
      'T4 by accelerator, over the Xeon it sits beside',
      facts({
        arch: 'x64',
        model: 'Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz',
        accelerators: [{ vendor: 'NVIDIA Corporation', model: 'Tesla T4' }],
      }),
      'aws-g4dn-t4',
    ],
    [
      'A10G by accelerator',
      facts({
        arch: 'x64',
        model: 'AMD EPYC 7R32',
        accelerators: [{ vendor: 'NVIDIA', model: 'NVIDIA A10G' }],
      }),
      'aws-g5-a10g',
    ],
    [
      'unknown x64 falls back to generic',
      facts({ arch: 'x64', model: 'AMD Ryzen 7 5800X' }),
      'generic-x86-64',
    ],
    [
      'unknown arm64 falls back to generic',
      facts({ model: 'Cortex-A55', board: 'Rock 3A' }),
      'generic-arm64',
    ],
    [
      '32-bit Raspberry Pi OS on a Pi 4',
      facts({ arch: 'arm', board: 'Raspberry Pi 4 Model B' }),
      'raspberry-pi-4b',
    ],
  ];
  for (const [name, device, expected] of cases) {
    it(name, () => assert.equal(matchProfile(device, profiles)?.profile.id, expected));
  }

  it('marks a generic choice as a fallback and ranks it last', () => {
    const ranked = rankProfiles(facts({ board: 'Raspberry Pi 5' }), profiles);
    assert.deepEqual(
      ranked.map((m) => m.profile.id),
      ['raspberry-pi-5', 'generic-arm64'],
    );
    assert.equal(ranked[1]?.fallback, true);
    assert.equal(matchProfile(facts({ model: 'x' }), profiles)?.fallback, true);
  });

  it('returns null when not even a generic profile fits the architecture', () => {
    assert.equal(matchProfile(facts({ arch: 'riscv64' }), profiles), null);
  });

  it('respects memory bounds when a profile sets them', () => {
    const limited = profiles.map((p) =>
      p.id === 'raspberry-pi-5'
        ? { ...p, match: { ...p.match, memoryBytes: { max: 4.5 * GB } } }
        : p,
    );
    assert.equal(
      matchProfile(facts({ board: 'Raspberry Pi 5' }), limited)?.profile.id,
      'generic-arm64',
    );
    const small = facts({ board: 'Raspberry Pi 5', memory: { totalBytes: 4 * GB } });
    assert.equal(matchProfile(small, limited)?.profile.id, 'raspberry-pi-5');
  });
});

describe('matchProfile regex edges', () => {
  it('does not take an A100 for an A10G, nor a T40 for a T4', () => {
    const gpu = (model: string) =>
      matchProfile(
        facts({ arch: 'x64', model: 'Xeon', accelerators: [{ vendor: 'NVIDIA', model }] }),
        profiles,
      )?.profile.id;
    assert.equal(gpu('NVIDIA A100-SXM4-40GB'), 'generic-x86-64');
    assert.equal(gpu('NVIDIA T40'), 'generic-x86-64');
    assert.equal(gpu('NVIDIA A10'), 'aws-g5-a10g');
  });
});
