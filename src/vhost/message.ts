// Decoding request payloads and encoding replies. Every reader checks the payload size first:
// a short or oversized payload is a ProtocolError (a failure reply), never an out-of-range read.
import {
  CONFIG_HEADER_SIZE,
  FLAG_REPLY,
  FLAG_VERSION,
  HEADER_SIZE,
  MAX_CONFIG_SIZE,
  MAX_MEM_TABLE_REGIONS,
  MEMORY_REGION_SIZE,
  Request,
  requestName,
  VRING_ADDR_SIZE,
} from "./protocol.ts";
import type { RegionDescription } from "./guest-memory.ts";

/** A request the frontend got wrong: answered with a failure, the connection survives. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

export interface Message {
  request: number;
  flags: number;
  payload: Uint8Array;
  view: DataView;
  /** Descriptors that came with the message; a handler takes what it uses (shift), the rest are closed. */
  fds: number[];
}

function need(message: Message, size: number, what: string): void {
  if (message.payload.length < size) {
    throw new ProtocolError(
      `${requestName(message.request)}: ${what} needs ${size} payload bytes, got ${message.payload.length}`,
    );
  }
}

/** A u64 that must fit a JS number (sizes, addresses): larger is a ProtocolError. */
function safeU64(view: DataView, offset: number, what: string): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ProtocolError(`${what} 0x${value.toString(16)} is out of range`);
  }
  return Number(value);
}

export function readU64(message: Message): bigint {
  need(message, 8, "a u64");
  return message.view.getBigUint64(0, true);
}

export interface VringState {
  index: number;
  num: number;
}

export function readVringState(message: Message): VringState {
  need(message, 8, "a vring state");
  return { index: message.view.getUint32(0, true), num: message.view.getUint32(4, true) };
}

export interface VringAddress {
  index: number;
  flags: number;
  desc: number;
  used: number;
  avail: number;
}

export function readVringAddress(message: Message): VringAddress {
  need(message, VRING_ADDR_SIZE, "a vring address");
  const v = message.view;
  return {
    index: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    desc: safeU64(v, 8, "descriptor table address"),
    used: safeU64(v, 16, "used ring address"),
    avail: safeU64(v, 24, "available ring address"),
  };
}

function readRegion(view: DataView, offset: number): RegionDescription {
  return {
    guestPhysAddr: safeU64(view, offset, "guest address"),
    sizeBytes: safeU64(view, offset + 8, "region size"),
    userAddr: safeU64(view, offset + 16, "userspace address"),
    mmapOffset: safeU64(view, offset + 24, "mmap offset"),
  };
}

/** SET_MEM_TABLE: u32 count, u32 padding, then count regions. */
export function readMemoryTable(message: Message): RegionDescription[] {
  need(message, 8, "a memory table header");
  const count = message.view.getUint32(0, true);
  if (count === 0 || count > MAX_MEM_TABLE_REGIONS) {
    throw new ProtocolError(`memory table has ${count} regions; 1..${MAX_MEM_TABLE_REGIONS} are allowed`);
  }
  need(message, 8 + count * MEMORY_REGION_SIZE, `a memory table of ${count} regions`);
  return Array.from({ length: count }, (_, i) => readRegion(message.view, 8 + i * MEMORY_REGION_SIZE));
}

/** ADD_MEM_REG / REM_MEM_REG: u64 padding, then one region. */
export function readSingleRegion(message: Message): RegionDescription {
  need(message, 8 + MEMORY_REGION_SIZE, "a memory region");
  return readRegion(message.view, 8);
}

export interface ConfigAccess {
  offset: number;
  size: number;
  flags: number;
  data: Uint8Array;
}

export function readConfigAccess(message: Message): ConfigAccess {
  need(message, CONFIG_HEADER_SIZE, "a config header");
  const offset = message.view.getUint32(0, true);
  const size = message.view.getUint32(4, true);
  const flags = message.view.getUint32(8, true);
  if (size > MAX_CONFIG_SIZE || offset > MAX_CONFIG_SIZE || offset + size > MAX_CONFIG_SIZE) {
    throw new ProtocolError(
      `config access ${offset}+${size} is outside the ${MAX_CONFIG_SIZE}-byte config space`,
    );
  }
  if (message.request === Request.SET_CONFIG) {
    need(message, CONFIG_HEADER_SIZE + size, `${size} config bytes`);
  }
  const data = message.payload.subarray(CONFIG_HEADER_SIZE, CONFIG_HEADER_SIZE + size);
  return { offset, size, flags, data };
}

/** A reply frame: header with the reply flag, then payload. */
export function encodeReply(request: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(HEADER_SIZE + payload.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, request, true);
  view.setUint32(4, FLAG_VERSION | FLAG_REPLY, true);
  view.setUint32(8, payload.length, true);
  frame.set(payload, HEADER_SIZE);
  return frame;
}

export function u64Payload(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value, true);
  return bytes;
}

export function vringStatePayload(state: VringState): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, state.index, true);
  view.setUint32(4, state.num, true);
  return bytes;
}

export function configPayload(access: ConfigAccess, config: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(CONFIG_HEADER_SIZE + access.size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, access.offset, true);
  view.setUint32(4, access.size, true);
  view.setUint32(8, access.flags, true);
  // Bytes past the device's config space read as zero.
  bytes.set(config.subarray(access.offset, access.offset + access.size), CONFIG_HEADER_SIZE);
  return bytes;
}
