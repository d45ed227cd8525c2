// The vhost-user wire protocol: request codes, flags, feature bits and payload layouts
// (QEMU docs/interop/vhost-user.rst). One source of truth for both the backend in this folder
// and the test frontend in tests/support/.

/** Front-end → back-end requests ("Front-end message types"). */
export const Request = {
  GET_FEATURES: 1,
  SET_FEATURES: 2,
  SET_OWNER: 3,
  RESET_OWNER: 4,
  SET_MEM_TABLE: 5,
  SET_LOG_BASE: 6,
  SET_LOG_FD: 7,
  SET_VRING_NUM: 8,
  SET_VRING_ADDR: 9,
  SET_VRING_BASE: 10,
  GET_VRING_BASE: 11,
  SET_VRING_KICK: 12,
  SET_VRING_CALL: 13,
  SET_VRING_ERR: 14,
  GET_PROTOCOL_FEATURES: 15,
  SET_PROTOCOL_FEATURES: 16,
  GET_QUEUE_NUM: 17,
  SET_VRING_ENABLE: 18,
  SEND_RARP: 19,
  NET_SET_MTU: 20,
  SET_BACKEND_REQ_FD: 21,
  IOTLB_MSG: 22,
  SET_VRING_ENDIAN: 23,
  GET_CONFIG: 24,
  SET_CONFIG: 25,
  GET_INFLIGHT_FD: 31,
  SET_INFLIGHT_FD: 32,
  RESET_DEVICE: 34,
  VRING_KICK: 35,
  GET_MAX_MEM_SLOTS: 36,
  ADD_MEM_REG: 37,
  REM_MEM_REG: 38,
  SET_STATUS: 39,
  GET_STATUS: 40,
} as const;

export type RequestCode = (typeof Request)[keyof typeof Request];

export function requestName(code: number): string {
  for (const [name, value] of Object.entries(Request)) if (value === code) return name;
  return `UNKNOWN(${code})`;
}

/** Header: request u32, flags u32, size u32 (little endian), then `size` payload bytes. */
export const HEADER_SIZE = 12;
/** Header flags: version 1 in bits 0-1, bit 2 reply, bit 3 need-reply. */
export const FLAG_VERSION = 0x1;
export const FLAG_VERSION_MASK = 0x3;
export const FLAG_REPLY = 1 << 2;
export const FLAG_NEED_REPLY = 1 << 3;

/**
 * Largest payload we accept. The biggest legal message is SET_MEM_TABLE (8 + 8 × 32 bytes) or
 * SET_CONFIG (12 + 256); anything above this is a hostile or broken frontend.
 */
export const MAX_PAYLOAD_SIZE = 4096;

/** Virtio feature bits (virtio spec §6) and the vhost-user one. */
export const Feature = {
  INDIRECT_DESC: 28n,
  EVENT_IDX: 29n,
  /** VHOST_USER_F_PROTOCOL_FEATURES: QEMU 7.2 refuses a backend without it. */
  PROTOCOL_FEATURES: 30n,
  VERSION_1: 32n,
} as const;

export function bit(n: bigint): bigint {
  return 1n << n;
}

/** VHOST_USER_PROTOCOL_F_* bits. */
export const ProtocolFeature = {
  MQ: 0n,
  LOG_SHMFD: 1n,
  RARP: 2n,
  REPLY_ACK: 3n,
  MTU: 4n,
  BACKEND_REQ: 5n,
  CROSS_ENDIAN: 6n,
  CRYPTO_SESSION: 7n,
  PAGEFAULT: 8n,
  CONFIG: 9n,
  BACKEND_SEND_FD: 10n,
  HOST_NOTIFIER: 11n,
  INFLIGHT_SHMFD: 12n,
  RESET_DEVICE: 13n,
  INBAND_NOTIFICATIONS: 14n,
  CONFIGURE_MEM_SLOTS: 15n,
  STATUS: 16n,
} as const;

/**
 * What this backend offers (CONFIG only to devices with a config space, see session.ts). CONFIGURE_MEM_SLOTS and STATUS are left out on purpose: offering them
 * changes QEMU 7.2's start-up sequence away from the one proven with real guests (guest-rig.md);
 * ADD/REM_MEM_REG, GET_MAX_MEM_SLOTS and SET/GET_STATUS are still served when sent.
 */
export const SUPPORTED_PROTOCOL_FEATURES = [
  ProtocolFeature.MQ,
  ProtocolFeature.REPLY_ACK,
  ProtocolFeature.CONFIG,
  ProtocolFeature.RESET_DEVICE,
].reduce((mask: bigint, b) => mask | bit(b), 0n);

/** Vring index and "no fd" flag in SET_VRING_KICK/CALL/ERR's u64 payload. */
export const VRING_INDEX_MASK = 0xffn;
export const VRING_NOFD_FLAG = 1n << 8n;

/** Memory regions per SET_MEM_TABLE (VHOST_MEMORY_BASELINE_NREGIONS) and slots we offer. */
export const MAX_MEM_TABLE_REGIONS = 8;
export const MAX_MEM_SLOTS = 8;
/** One region: guest_addr, size, user_addr, mmap_offset (4 × u64). */
export const MEMORY_REGION_SIZE = 32;

/** Vring address payload: index u32, flags u32, desc u64, used u64, avail u64, log u64. */
export const VRING_ADDR_SIZE = 40;
/** SET_VRING_ADDR flag bit 0: the frontend wants dirty logging (we never log). */
export const VRING_ADDR_F_LOG = 1;

/** GET/SET_CONFIG payload: offset u32, size u32, flags u32, then up to 256 config bytes. */
export const CONFIG_HEADER_SIZE = 12;
export const MAX_CONFIG_SIZE = 256;

/** Queues a frontend may address (index is 8 bits on the wire). */
export const MAX_QUEUE_SIZE = 32768;

/** Descriptors one message may carry (SET_MEM_TABLE's 8 regions); more ends the connection. */
export const MAX_FDS_PER_MESSAGE_ACCEPTED = 8;
