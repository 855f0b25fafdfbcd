import { test } from 'node:test';
import { warmUpReceiving } from '../../src/migration/warm-up.js';

test('the warm-up receives whole scratch migrations through the destination, for other page sizes too', async () => {
  // Each pass is a full receive (header, RAM runs, END, EOF, vmdesc): any refusal rejects here.
  await warmUpReceiving();
  await warmUpReceiving(8192);
});
