/**
 * The QEMU fixture streams (test/fixtures/qemu, described by manifest.json), plus any *.mig
 * in the directory named by VMSTREAM_STREAMS_DIR (extra local streams). Test helper.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface FixtureStream {
  readonly name: string;
  readonly path: string;
  /** The manifest entry, when the stream comes from the committed fixture set. */
  readonly manifest?: {
    readonly machineArgs: readonly string[];
    readonly inputs: readonly unknown[];
    readonly capabilities: Readonly<Record<string, boolean>>;
    readonly ram: {
      readonly machine: string | null;
      readonly blocks: readonly { readonly name: string; readonly length: number | string }[];
      readonly records: Readonly<Record<string, number>>;
      readonly footers: boolean;
    };
  };
}

export const FIXTURE_DIR = join('test', 'fixtures', 'qemu');

export function fixtureStreams(): FixtureStream[] {
  const out: FixtureStream[] = [];
  const manifestPath = join(FIXTURE_DIR, 'manifest.json');
  if (existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as { streams: { name: string; file: string }[] };
    for (const s of m.streams) {
      const path = join(FIXTURE_DIR, s.file);
      if (existsSync(path)) out.push({ name: s.name, path, manifest: s as unknown as FixtureStream['manifest'] });
    }
  }
  const extra = process.env['VMSTREAM_STREAMS_DIR'];
  if (extra !== undefined && existsSync(extra)) {
    for (const f of readdirSync(extra).sort()) if (f.endsWith('.mig')) out.push({ name: `extra:${f}`, path: join(extra, f) });
  }
  return out;
}

export function readFixture(f: FixtureStream): Uint8Array {
  return new Uint8Array(readFileSync(f.path));
}
