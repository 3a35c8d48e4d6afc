import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSse } from './sse-parser';

describe('parseSse', () => {
  it('splits named events, joins multi-line data and keeps an unfinished event as rest', () => {
    const { events, rest } = parseSse(
      'event: state\ndata: {"state":"running"}\n\n: keepalive\n\nevent: round\ndata: a\ndata: b\nid: 7\n\nevent: progress\ndata: {"fr',
    );
    assert.deepEqual(events, [
      { event: 'state', data: '{"state":"running"}' },
      { event: 'round', data: 'a\nb', id: '7' },
    ]);
    assert.equal(rest, 'event: progress\ndata: {"fr');
    const next = parseSse(`${rest}action":0.5}\n\n`);
    assert.deepEqual(next.events, [{ event: 'progress', data: '{"fraction":0.5}' }]);
    assert.equal(next.rest, '');
  });

  it('accepts CRLF line ends and defaults the event name to message', () => {
    const { events } = parseSse('data:x\r\n\r\n');
    assert.deepEqual(events, [{ event: 'message', data: 'x' }]);
  });
});
