import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatCount, formatMs, renderTable } from './table';

describe('renderTable', () => {
  it('pads columns to the widest cell, right-aligns numbers and shows - for missing values', () => {
    const out = renderTable<{ id: string; ms: number | null }>(
      [
        { header: 'ID', value: (r) => r.id },
        { header: 'P50 MS', value: (r) => formatMs(r.ms), align: 'right' },
      ],
      [
        { id: 'pi5-lab-01', ms: 3.456 },
        { id: 'x', ms: null },
      ],
    );
    assert.equal(out, 'ID          P50 MS\npi5-lab-01    3.46\nx                -\n');
  });

  it('formats magnitudes readably', () => {
    assert.equal(formatMs(0.1234), '0.123');
    assert.equal(formatMs(123.4), '123');
    assert.equal(formatCount(1_234_567), '1.23M');
    assert.equal(formatCount(999), '999');
    assert.equal(formatBytes(2048), '2.0 KiB');
    assert.equal(formatMs(null), null);
  });
});
