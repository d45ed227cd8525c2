// A small reader and writer of flattened device trees (the DTB format of the Devicetree
// Specification, chapter 5), enough to merge nodes into QEMU's own `-machine dumpdtb=` output
// without dtc at run time. The input is a user's file: every offset and length is checked, and a
// malformed blob is an FdtError with a message, never an exception from a typed-array view.

const FDT_MAGIC = 0xd00dfeed;
const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_NOP = 4;
const FDT_END = 9;
const HEADER_SIZE = 40;
/** The version written; readers of version 16 and later can read it. */
const WRITE_VERSION = 17;
const WRITE_LAST_COMPATIBLE = 16;
/** Larger than any device tree QEMU or a board needs; a bigger file is a mistake. */
export const MAX_FDT_SIZE = 16 * 1024 * 1024;

export class FdtError extends Error {
  override name = "FdtError";
}

export interface FdtProperty {
  name: string;
  value: Uint8Array;
}

export interface FdtNode {
  /** The node name with its unit address (`virtio_mmio@a003e00`); "" for the root. */
  name: string;
  properties: FdtProperty[];
  children: FdtNode[];
}

export interface FdtReservation {
  address: bigint;
  size: bigint;
}

export interface Fdt {
  root: FdtNode;
  reservations: FdtReservation[];
  bootCpuId: number;
}

// ------------------------------------------------------------------------------------- reading

/** Parses a DTB (version 16 or later). */
export function parseFdt(bytes: Uint8Array): Fdt {
  if (bytes.length < HEADER_SIZE) throw new FdtError(`not a device tree blob: only ${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (offset: number) => view.getUint32(offset);
  if (u32(0) !== FDT_MAGIC) {
    throw new FdtError(`not a device tree blob: magic 0x${u32(0).toString(16)}, expected 0xd00dfeed`);
  }
  const totalSize = u32(4);
  const structOffset = u32(8);
  const stringsOffset = u32(12);
  const reservationOffset = u32(16);
  const version = u32(20);
  const lastCompatible = u32(24);
  const bootCpuId = u32(28);
  if (totalSize > bytes.length) {
    throw new FdtError(
      `truncated device tree blob: header says ${totalSize} bytes, the file has ${bytes.length}`,
    );
  }
  if (totalSize > MAX_FDT_SIZE) throw new FdtError(`device tree blob of ${totalSize} bytes is too large`);
  if (version < 16 || lastCompatible > WRITE_VERSION) {
    throw new FdtError(`unsupported device tree version ${version} (last compatible ${lastCompatible})`);
  }
  const stringsSize = version >= 17 ? u32(32) : totalSize - stringsOffset;
  const structSize = version >= 17 ? u32(36) : totalSize - structOffset;
  const within = (what: string, offset: number, size: number) => {
    if (offset < HEADER_SIZE || size < 0 || offset + size > totalSize) {
      throw new FdtError(`${what} (offset ${offset}, ${size} bytes) lies outside the ${totalSize}-byte blob`);
    }
  };
  within("structure block", structOffset, structSize);
  within("strings block", stringsOffset, stringsSize);
  within("memory reservation block", reservationOffset, 16);

  const reservations: FdtReservation[] = [];
  for (let at = reservationOffset;; at += 16) {
    within("memory reservation entry", at, 16);
    const address = view.getBigUint64(at);
    const size = view.getBigUint64(at + 8);
    if (address === 0n && size === 0n) break;
    reservations.push({ address, size });
  }

  const decoder = new TextDecoder("utf-8", { fatal: true });
  const cString = (start: number, end: number, what: string): { text: string; next: number } => {
    const nul = bytes.indexOf(0, start);
    if (nul < 0 || nul >= end) throw new FdtError(`${what} at offset ${start} is not NUL-terminated`);
    try {
      return { text: decoder.decode(bytes.subarray(start, nul)), next: nul + 1 };
    } catch {
      throw new FdtError(`${what} at offset ${start} is not valid UTF-8`);
    }
  };
  const stringsEnd = stringsOffset + stringsSize;
  const propertyName = (offset: number) => {
    if (offset >= stringsSize) {
      throw new FdtError(`property name offset ${offset} is outside the strings block`);
    }
    return cString(stringsOffset + offset, stringsEnd, "property name").text;
  };

  const structEnd = structOffset + structSize;
  let at = structOffset;
  const token = () => {
    if (at + 4 > structEnd) throw new FdtError("the structure block ends without FDT_END");
    const t = u32(at);
    at += 4;
    return t;
  };
  const align = () => (at = (at + 3) & ~3);
  const stack: FdtNode[] = [];
  let root: FdtNode | undefined;
  for (;;) {
    const t = token();
    if (t === FDT_NOP) continue;
    if (t === FDT_BEGIN_NODE) {
      const { text, next } = cString(at, structEnd, "node name");
      at = next;
      align();
      const node: FdtNode = { name: text, properties: [], children: [] };
      if (stack.length) stack[stack.length - 1].children.push(node);
      else if (root) throw new FdtError("the structure block has more than one root node");
      else root = node;
      stack.push(node);
    } else if (t === FDT_PROP) {
      const parent = stack[stack.length - 1];
      if (!parent) throw new FdtError(`a property outside any node at offset ${at - 4}`);
      if (at + 8 > structEnd) throw new FdtError("the structure block ends inside a property");
      const length = u32(at);
      const nameOffset = u32(at + 4);
      at += 8;
      if (at + length > structEnd) {
        throw new FdtError(`property at offset ${at - 12} runs past the structure block`);
      }
      parent.properties.push({ name: propertyName(nameOffset), value: bytes.slice(at, at + length) });
      at += length;
      align();
    } else if (t === FDT_END_NODE) {
      if (!stack.pop()) throw new FdtError(`an unmatched FDT_END_NODE at offset ${at - 4}`);
    } else if (t === FDT_END) {
      if (stack.length) throw new FdtError(`FDT_END inside node "${stack[stack.length - 1].name}"`);
      break;
    } else {
      throw new FdtError(`unknown token 0x${t.toString(16)} at offset ${at - 4}`);
    }
  }
  if (!root) throw new FdtError("the device tree has no root node");
  return { root, reservations, bootCpuId };
}

// ------------------------------------------------------------------------------------- writing

/** Writes a compact DTB (version 17): header, reservations, structure, strings, no free space. */
export function serializeFdt(fdt: Fdt): Uint8Array {
  const encoder = new TextEncoder();
  const strings: number[] = [];
  const stringOffsets = new Map<string, number>();
  const nameOffset = (name: string) => {
    let offset = stringOffsets.get(name);
    if (offset === undefined) {
      offset = strings.length;
      stringOffsets.set(name, offset);
      strings.push(...encoder.encode(name), 0);
    }
    return offset;
  };

  const struct: number[] = [];
  const word = (n: number) => struct.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const pad = () => {
    while (struct.length % 4) struct.push(0);
  };
  const emit = (node: FdtNode) => {
    if (node.name.includes("\0")) throw new FdtError(`node name ${JSON.stringify(node.name)} contains NUL`);
    word(FDT_BEGIN_NODE);
    struct.push(...encoder.encode(node.name), 0);
    pad();
    for (const p of node.properties) {
      if (p.name === "" || p.name.includes("\0")) {
        throw new FdtError(`bad property name ${JSON.stringify(p.name)}`);
      }
      word(FDT_PROP);
      word(p.value.length);
      word(nameOffset(p.name));
      for (const b of p.value) struct.push(b);
      pad();
    }
    for (const child of node.children) emit(child);
    word(FDT_END_NODE);
  };
  emit(fdt.root);
  word(FDT_END);

  const reservationOffset = HEADER_SIZE;
  const reservationSize = (fdt.reservations.length + 1) * 16;
  const structOffset = reservationOffset + reservationSize;
  const stringsOffset = structOffset + struct.length;
  const totalSize = stringsOffset + strings.length;
  const out = new Uint8Array(totalSize);
  const view = new DataView(out.buffer);
  [
    FDT_MAGIC,
    totalSize,
    structOffset,
    stringsOffset,
    reservationOffset,
    WRITE_VERSION,
    WRITE_LAST_COMPATIBLE,
    fdt.bootCpuId,
    strings.length,
    struct.length,
  ].forEach((v, i) => view.setUint32(i * 4, v));
  fdt.reservations.forEach((r, i) => {
    view.setBigUint64(reservationOffset + i * 16, r.address);
    view.setBigUint64(reservationOffset + i * 16 + 8, r.size);
  });
  out.set(struct, structOffset);
  out.set(strings, stringsOffset);
  return out;
}

// ------------------------------------------------------------------------------- property values

/** A property value of 32-bit big-endian cells. */
export function cells(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`cell value ${v} is not a u32`);
    view.setUint32(i * 4, v);
  });
  return out;
}

/** A property value of NUL-terminated strings (a string list when more than one). */
export function strings(...values: string[]): Uint8Array {
  return new TextEncoder().encode(values.map((v) => `${v}\0`).join(""));
}

/** The empty value of a boolean property (`gpio-controller;`). */
export const EMPTY = new Uint8Array(0);

export function readCells(value: Uint8Array): number[] {
  if (value.length % 4) throw new FdtError(`a ${value.length}-byte value is not a list of 32-bit cells`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return Array.from({ length: value.length / 4 }, (_, i) => view.getUint32(i * 4));
}

export function readStrings(value: Uint8Array): string[] {
  if (value.length === 0 || value[value.length - 1] !== 0) return [];
  return new TextDecoder().decode(value.subarray(0, -1)).split("\0");
}

export function property(node: FdtNode, name: string): Uint8Array | undefined {
  return node.properties.find((p) => p.name === name)?.value;
}

/** Sets (replaces or appends) a property. */
export function setProperty(node: FdtNode, name: string, value: Uint8Array): void {
  const existing = node.properties.find((p) => p.name === name);
  if (existing) existing.value = value;
  else node.properties.push({ name, value });
}

export function child(node: FdtNode, name: string): FdtNode | undefined {
  return node.children.find((c) => c.name === name);
}

/** The node at an absolute path (`/virtio_mmio@a003e00/i2c`), or undefined. */
export function nodeAt(fdt: Fdt, path: string): FdtNode | undefined {
  let node: FdtNode | undefined = fdt.root;
  for (const part of path.split("/").filter(Boolean)) node = node && child(node, part);
  return node;
}

/** Every node with its absolute path, depth first. */
export function* walk(node: FdtNode, path = "/"): Generator<{ node: FdtNode; path: string }> {
  yield { node, path };
  for (const c of node.children) yield* walk(c, path === "/" ? `/${c.name}` : `${path}/${c.name}`);
}

/** The highest phandle in use (0 when none): new nodes take the next ones. */
export function maxPhandle(fdt: Fdt): number {
  let max = 0;
  for (const { node } of walk(fdt.root)) {
    for (const name of ["phandle", "linux,phandle"]) {
      const value = property(node, name);
      if (value?.length === 4) max = Math.max(max, readCells(value)[0]);
    }
  }
  return max;
}
