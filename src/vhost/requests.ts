// The request table: each vhost-user request code and the few lines that handle it (snabb's
// handler_names shape). A handler returns the payload of its reply (for requests that have one),
// throws ProtocolError to fail, and takes the fds it keeps with message.fds.shift().
import { closeQuietly, setNonBlocking } from "../native/syscalls.ts";
import {
  configPayload,
  type Message,
  ProtocolError,
  readConfigAccess,
  readMemoryTable,
  readSingleRegion,
  readU64,
  readVringAddress,
  readVringState,
  u64Payload,
  vringStatePayload,
} from "./message.ts";
import {
  bit,
  Feature,
  MAX_MEM_SLOTS,
  MAX_MEM_TABLE_REGIONS,
  Request,
  VRING_INDEX_MASK,
  VRING_NOFD_FLAG,
} from "./protocol.ts";
import type { VhostUserSession } from "./session.ts";

interface RequestEntry {
  /** The request has a reply of its own (a GET); otherwise it is acked only on NEED_REPLY. */
  replies: boolean;
  handle(session: VhostUserSession, message: Message): Uint8Array | void;
}

function takeFd(message: Message, what: string): number {
  const fd = message.fds.shift();
  if (fd === undefined) throw new ProtocolError(`${what} came without its file descriptor`);
  return fd;
}

/** SET_VRING_KICK/CALL/ERR payload: queue index in bits 0-7, "no fd" in bit 8. */
function vringFd(session: VhostUserSession, message: Message, what: string) {
  const value = readU64(message);
  const queue = session.queue(Number(value & VRING_INDEX_MASK));
  const fd = value & VRING_NOFD_FLAG ? -1 : takeFd(message, what);
  // Never block on the frontend's fds: a call fd that is a full pipe or socket, or a kick fd
  // drained by someone else, must not stall every other board (QEMU's are non-blocking anyway).
  try {
    if (fd >= 0) setNonBlocking(fd, true);
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
  return { queue, fd };
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

export const requestTable: Record<number, RequestEntry> = {
  [Request.GET_FEATURES]: { replies: true, handle: (s) => u64Payload(s.offeredFeatures) },

  [Request.SET_FEATURES]: {
    replies: false,
    handle(s, m) {
      const features = readU64(m);
      const unknown = features & ~s.offeredFeatures;
      if (unknown) throw new ProtocolError(`features 0x${unknown.toString(16)} were not offered`);
      s.ackedFeatures = features;
      const eventIdx = (features & bit(Feature.EVENT_IDX)) !== 0n;
      for (const queue of s.queues) queue.eventIdx = eventIdx;
      s.device.featuresNegotiated?.(features);
    },
  },

  [Request.SET_OWNER]: { replies: false, handle: (s) => void (s.owner = true) },

  [Request.RESET_OWNER]: {
    replies: false,
    handle(s) {
      s.resetDevice();
      s.owner = false;
    },
  },

  [Request.GET_PROTOCOL_FEATURES]: { replies: true, handle: (s) => u64Payload(s.offeredProtocolFeatures) },

  [Request.SET_PROTOCOL_FEATURES]: {
    replies: false,
    handle(s, m) {
      const features = readU64(m);
      const unknown = features & ~s.offeredProtocolFeatures;
      if (unknown) throw new ProtocolError(`protocol features 0x${unknown.toString(16)} were not offered`);
      s.ackedProtocolFeatures = features;
    },
  },

  [Request.GET_QUEUE_NUM]: { replies: true, handle: (s) => u64Payload(BigInt(s.queues.length)) },

  [Request.SET_MEM_TABLE]: {
    replies: false,
    handle(s, m) {
      const regions = readMemoryTable(m);
      if (m.fds.length !== regions.length) {
        throw new ProtocolError(`memory table has ${regions.length} regions but ${m.fds.length} fds`);
      }
      s.memory.clear();
      try {
        for (const region of regions) s.memory.add(region, takeFd(m, "memory region"), MAX_MEM_TABLE_REGIONS);
      } finally {
        // Also when a region is refused: the old table is gone, and a ring still translated
        // through it would read detached views (a TypeError on every kick, found by
        // tests/vhost/fuzz_test.ts) instead of being marked broken.
        s.remapQueues();
      }
    },
  },

  [Request.GET_MAX_MEM_SLOTS]: { replies: true, handle: () => u64Payload(BigInt(MAX_MEM_SLOTS)) },

  [Request.ADD_MEM_REG]: {
    replies: false,
    handle(s, m) {
      const region = readSingleRegion(m);
      s.memory.add(region, takeFd(m, "memory region"), MAX_MEM_SLOTS);
      s.remapQueues();
    },
  },

  [Request.REM_MEM_REG]: {
    replies: false,
    handle(s, m) {
      s.memory.remove(readSingleRegion(m)); // QEMU attaches the region's fd too: closed unused
      s.remapQueues();
    },
  },

  [Request.SET_VRING_NUM]: {
    replies: false,
    handle(s, m) {
      const { index, num } = readVringState(m);
      const queue = s.queue(index);
      if (!isPowerOfTwo(num) || num > s.device.maxQueueSize) {
        throw new ProtocolError(`queue size ${num} must be a power of 2 up to ${s.device.maxQueueSize}`);
      }
      queue.size = num;
      queue.resolve();
    },
  },

  [Request.SET_VRING_ADDR]: {
    replies: false,
    handle(s, m) {
      const address = readVringAddress(m);
      const queue = s.queue(address.index);
      if (queue.size === 0) {
        throw new ProtocolError(`queue ${address.index}: SET_VRING_ADDR before SET_VRING_NUM`);
      }
      queue.setAddresses(address.desc, address.avail, address.used);
    },
  },

  [Request.SET_VRING_BASE]: {
    replies: false,
    handle(s, m) {
      const { index, num } = readVringState(m);
      if (num > 0xffff) throw new ProtocolError(`ring base ${num} is not a 16-bit index`);
      s.queue(index).restart(num);
    },
  },

  [Request.GET_VRING_BASE]: {
    replies: true,
    handle(s, m) {
      const { index } = readVringState(m);
      const base = s.stopQueue(s.queue(index));
      s.stoppedQueues.add(index);
      return vringStatePayload({ index, num: base });
    },
  },

  [Request.SET_VRING_KICK]: {
    replies: false,
    handle(s, m) {
      const { queue, fd } = vringFd(s, m, "SET_VRING_KICK");
      s.ringStarting(queue);
      s.setKick(queue, fd);
      queue.started = true;
      if (s.ringsStartEnabled) queue.enabled = true;
      // Buffers may already be waiting (a restarted ring, or a kick before we watched).
      s.processQueue(queue);
    },
  },

  [Request.SET_VRING_CALL]: {
    replies: false,
    handle(s, m) {
      const { queue, fd } = vringFd(s, m, "SET_VRING_CALL");
      if (queue.callFd >= 0) closeQuietly(queue.callFd);
      queue.callFd = fd;
    },
  },

  [Request.SET_VRING_ERR]: {
    replies: false,
    handle(s, m) {
      const { queue, fd } = vringFd(s, m, "SET_VRING_ERR");
      if (queue.errFd >= 0) closeQuietly(queue.errFd);
      queue.errFd = fd;
    },
  },

  [Request.SET_VRING_ENABLE]: {
    replies: false,
    handle(s, m) {
      const { index, num } = readVringState(m);
      const queue = s.queue(index);
      queue.enabled = num === 1;
      s.processQueue(queue);
    },
  },

  [Request.GET_CONFIG]: {
    replies: true,
    handle(s, m) {
      const access = readConfigAccess(m);
      return configPayload(access, s.device.readConfig());
    },
  },

  [Request.SET_CONFIG]: {
    replies: false,
    handle(s, m) {
      const access = readConfigAccess(m);
      if (!s.device.writeConfig?.(access.offset, access.data)) {
        throw new ProtocolError(
          `${s.device.name} config space is not writable at ${access.offset}+${access.size}`,
        );
      }
    },
  },

  [Request.RESET_DEVICE]: { replies: false, handle: (s) => s.resetDevice() },

  [Request.SET_STATUS]: {
    replies: false,
    handle(s, m) {
      const status = readU64(m);
      if (status > 0xffn) throw new ProtocolError(`device status 0x${status.toString(16)} is not a byte`);
      s.status = Number(status);
      if (s.status === 0) s.resetDevice(); // virtio §2.1: writing 0 resets the device
    },
  },

  [Request.GET_STATUS]: { replies: true, handle: (s) => u64Payload(BigInt(s.status)) },

  // Known requests with replies that this backend does not implement: an empty reply says so.
  [Request.GET_INFLIGHT_FD]: {
    replies: true,
    handle() {
      throw new ProtocolError("GET_INFLIGHT_FD is not supported (INFLIGHT_SHMFD is not offered)");
    },
  },
};
