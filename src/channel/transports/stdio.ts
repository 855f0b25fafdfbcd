/** `-`: the process's stdin as a source and stdout as a sink. Closing them never closes fd 0/1. */
import { ReadableSource, WritableSink } from './node-stream.js';

export function stdinSource(options: { maxQueued?: number } = {}): ReadableSource {
  return new ReadableSource(process.stdin, {
    maxQueued: options.maxQueued,
    name: 'stdin',
    onClose: () => {
      process.stdin.pause();
    },
  });
}

export function stdoutSink(): WritableSink {
  return new WritableSink(process.stdout, {
    name: 'stdout',
    closeMode: 'flush',
    onDestroy: () => {},
  });
}
