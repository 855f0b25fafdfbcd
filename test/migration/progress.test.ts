import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROGRESS_INTERVAL_MS, PROGRESS_PREFIX, ProgressReporter } from '../../src/migration/ack.js';
import type { ByteSink } from '../../src/channel/transport.js';

/** A sink that records each progress line's byte count and when it came. */
function recordingSink(): { sink: ByteSink; reports: { bytes: number; at: number }[] } {
  const reports: { bytes: number; at: number }[] = [];
  const sink: ByteSink = {
    write: async (chunk) => {
      const line = new TextDecoder().decode(chunk);
      assert.ok(line.startsWith(PROGRESS_PREFIX));
      reports.push({ bytes: (JSON.parse(line.slice(PROGRESS_PREFIX.length)) as { bytes: number }).bytes, at: performance.now() });
    },
    close: async () => undefined,
    destroy: () => undefined,
  };
  return { sink, reports };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('while the destination is busy it reports at most once per interval; once it runs dry it reports at once', async () => {
  const { sink, reports } = recordingSink();
  let consumed = 0;
  let waiting = false;
  const reporter = new ProgressReporter(sink, () => consumed, () => waiting);
  try {
  // Busy: bytes go up all the time; short waits between reads do not count as idle.
  const busyUntil = performance.now() + 4 * PROGRESS_INTERVAL_MS;
  while (performance.now() < busyUntil) {
    consumed += 65536;
    waiting = !waiting;
    await sleep(1);
  }
  const busyReports = reports.length;
  assert.ok(busyReports >= 1, 'a busy destination still reports');
  assert.ok(busyReports <= 6, `${busyReports} reports in 4 intervals of busy work`);
  // Stay busy until a report has just gone out, so the interval alone would bring the next one
  // only PROGRESS_INTERVAL_MS later.
  const before = reports.length;
  while (reports.length === before) {
    consumed += 65536;
    await sleep(1);
  }
  // Runs dry: everything consumed, waiting for bytes. The report comes within a few ticks, well
  // before the next interval would bring it.
  consumed += 4096;
  waiting = true;
  const dryAt = performance.now();
  while (reports.at(-1)?.bytes !== consumed && performance.now() - dryAt < 10 * PROGRESS_INTERVAL_MS) await sleep(1);
  const last = reports.at(-1)!;
  assert.equal(last.bytes, consumed);
  assert.ok(last.at - dryAt < PROGRESS_INTERVAL_MS, `idle report after ${(last.at - dryAt).toFixed(1)} ms`);
  // Nothing new: no more reports.
  const count = reports.length;
  await sleep(2 * PROGRESS_INTERVAL_MS);
  assert.equal(reports.length, count);
  } finally {
    await reporter.stop();
  }
});
