/** A device handler over a VMState description and a state getter/setter (the usual case). */
import type { ChannelReader } from '../channel/reader.js';
import type { ChannelWriter } from '../channel/writer.js';
import { VmsError } from '../errors.js';
import { BinaryInputVisitor } from '../format/binary/input.js';
import { BinaryOutputVisitor } from '../format/binary/output.js';
import type { VmdescDevice } from '../stream/vmdesc.js';
import type { AnyVmsd, StateOf } from '../vmstate/infer.js';
import { load } from '../vmstate/load.js';
import { describeSave } from '../vmstate/vmdesc.js';
import { save } from '../vmstate/save.js';
import type { DeviceHandler } from './handlers.js';

export interface VmstateDeviceOptions<D extends AnyVmsd> {
  /** Section idstr; defaults to the description's name. */
  readonly idstr?: string;
  /** Defaults to 0. */
  readonly instance?: number;
  readonly desc: D;
  /** The device's current state (read when saving, and as the load target). */
  get(): StateOf<D>;
  /** Installs a loaded state. */
  set(state: StateOf<D>): void;
}

export function vmstateDevice<D extends AnyVmsd>(o: VmstateDeviceOptions<D>): DeviceHandler<StateOf<D>> {
  const idstr = o.idstr ?? o.desc.name;
  const instance = o.instance ?? 0;
  return {
    idstr,
    instance,
    version: o.desc.version,
    minVersion: o.desc.minVersion,
    save(w: ChannelWriter): void {
      save(o.desc, o.get(), new BinaryOutputVisitor(w));
    },
    describe(): VmdescDevice {
      // Field by field, as QEMU's vmsd_desc_field_* writes it, so `vmstream dump` shows fields.
      // Called right after save, with the device unchanged (the machine is stopped).
      const d = describeSave(o.desc, o.get());
      return {
        name: idstr,
        instance_id: instance,
        vmsd_name: d.vmsd_name,
        version: d.version,
        fields: d.fields,
        ...(d.subsections !== undefined ? { subsections: d.subsections } : {}),
      };
    },
    load(r: ChannelReader, version: number): StateOf<D> {
      if (version > o.desc.version || version < o.desc.minVersion) {
        throw new VmsError('E_VERSION', `section ${idstr} version ${version} is ${version > o.desc.version ? 'too new' : 'too old'}`, {
          offset: r.offset,
          path: [idstr],
          expected: `${o.desc.minVersion}..${o.desc.version}`,
          actual: String(version),
        });
      }
      return load(o.desc, new BinaryInputVisitor(r), o.get(), version);
    },
    apply(staged: StateOf<D>): void {
      o.set(staged);
    },
  };
}
