import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemLoad } from './system-load';

describe('SystemLoad', () => {
  it('reads the hottest thermal zone and null without any', () => {
    const root = mkdtempSync(join(tmpdir(), 'ec-thermal-'));
    try {
      for (const [zone, milli] of [
        ['thermal_zone0', '41500'],
        ['thermal_zone1', '63250'],
        ['cooling_device0', '99000'],
      ]) {
        mkdirSync(join(root, zone!));
        writeFileSync(join(root, zone!, 'temp'), `${milli}\n`);
      }
      const load = new SystemLoad(root);
      assert.equal(load.temperatureC(root), 63.25);
      assert.equal(load.temperatureC(join(root, 'missing')), null);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reports memory, disk and a CPU load percentage within bounds', () => {
    const load = new SystemLoad(tmpdir());
    const mem = load.memory();
    assert.ok(mem.totalBytes > 0 && mem.usedBytes + mem.freeBytes === mem.totalBytes);
    assert.ok(load.disk().totalBytes > 0);
    let x = 0;
    for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
    const pct = load.cpuLoadPercent();
    assert.ok(pct >= 0 && pct <= 100 && x > 0);
  });
});
