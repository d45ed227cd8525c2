// Guest RAM for the test frontend: one memfd, mapped here once, cut into regions the way QEMU
// describes its RAM to a vhost-user backend (vhost-user.rst "Memory regions description").
// Each region has a guest-physical base (what descriptors hold) and a frontend-virtual
// "userspace address" (what SET_VRING_ADDR holds). The two are deliberately far apart, so a
// backend that translates a ring address as guest-physical, or a descriptor address as
// frontend-virtual, reads outside memory and fails loudly.
import {
  closeQuietly,
  createMemFd,
  mapShared,
  type SharedMapping,
  unmap,
} from "../../src/native/syscalls.ts";

export const MiB = 1 << 20;
const PAGE_SIZE = 4096;

/** Where one region sits in the guest, in QEMU's process, and in the memfd. */
export interface RegionLayout {
  readonly guestPhysAddr: bigint;
  readonly userspaceAddr: bigint;
  readonly sizeBytes: number;
  /** Offset of the region inside the memfd (page aligned, as the backend maps it there). */
  readonly mmapOffset: number;
}

/** A region as sent in SET_MEM_TABLE / ADD_MEM_REG: the layout plus the fd that backs it. */
export interface GuestRegion extends RegionLayout {
  readonly memory: GuestMemory;
  readonly fd: number;
}

/** A buffer carved out of guest memory, addressable the three ways a test needs. */
export interface GuestBuffer {
  readonly region: GuestRegion;
  readonly guestPhysAddr: bigint;
  readonly userspaceAddr: bigint;
  readonly sizeBytes: number;
  /** A live view of the bytes (writes are seen by the backend). */
  readonly bytes: Uint8Array;
}

/** Defaults that look like QEMU's: RAM at 1 GiB (arm64 virt), host mapping at a 0x7f.. address. */
export const DEFAULT_GUEST_PHYS_BASE = 0x4000_0000n;
export const DEFAULT_USERSPACE_BASE = 0x7f3a_0000_0000n;

export interface GuestMemoryOptions {
  /** Size of the memfd; default 4 MiB. */
  sizeBytes?: number;
  /** Regions inside it; default one region covering all of it at the default bases. */
  regions?: readonly RegionLayout[];
  name?: string;
}

export class GuestMemory {
  readonly fd: number;
  readonly sizeBytes: number;
  readonly regions: readonly GuestRegion[];
  readonly #mapping: SharedMapping;
  /** Next free byte per region (a bump allocator: tests allocate once and reuse). */
  readonly #nextFree: number[];

  constructor(options: GuestMemoryOptions = {}) {
    this.sizeBytes = options.sizeBytes ?? 4 * MiB;
    const layouts = options.regions ?? [{
      guestPhysAddr: DEFAULT_GUEST_PHYS_BASE,
      userspaceAddr: DEFAULT_USERSPACE_BASE,
      sizeBytes: this.sizeBytes,
      mmapOffset: 0,
    }];
    for (const layout of layouts) {
      if (layout.mmapOffset % PAGE_SIZE !== 0 || layout.mmapOffset + layout.sizeBytes > this.sizeBytes) {
        throw new RangeError(
          `region at file offset ${layout.mmapOffset} size ${layout.sizeBytes} does not fit a ` +
            `${this.sizeBytes}-byte memfd on a page boundary`,
        );
      }
    }
    this.fd = createMemFd(options.name ?? "sfpemu-guest-ram", this.sizeBytes);
    try {
      this.#mapping = mapShared(this.fd, this.sizeBytes);
    } catch (error) {
      closeQuietly(this.fd);
      throw error;
    }
    this.bytes = new Uint8Array(this.#mapping.buffer);
    this.view = new DataView(this.#mapping.buffer);
    this.regions = layouts.map((layout) => ({ ...layout, memory: this, fd: this.fd }));
    this.#nextFree = layouts.map(() => 0);
  }

  /** The whole memfd as bytes (offsets are memfd offsets, not addresses). */
  readonly bytes: Uint8Array;
  readonly view: DataView;

  /** The region holding a guest-physical range, or undefined. */
  regionOfGuestPhys(address: bigint, sizeBytes = 1): GuestRegion | undefined {
    return this.regions.find((r) =>
      address >= r.guestPhysAddr && address + BigInt(sizeBytes) <= r.guestPhysAddr + BigInt(r.sizeBytes)
    );
  }

  /** The memfd offset of a guest-physical range; throws when it is not inside one region. */
  offsetOfGuestPhys(address: bigint, sizeBytes = 1): number {
    const region = this.regionOfGuestPhys(address, sizeBytes);
    if (!region) {
      throw new RangeError(`guest-physical 0x${address.toString(16)}+${sizeBytes} is outside guest memory`);
    }
    return region.mmapOffset + Number(address - region.guestPhysAddr);
  }

  /**
   * Carves sizeBytes out of a region (default the first), aligned; the bytes start zeroed only
   * if nothing used them before (a fresh memfd is zero).
   */
  allocate(sizeBytes: number, alignBytes = 16, regionIndex = 0): GuestBuffer {
    const region = this.regions[regionIndex];
    if (!region) throw new RangeError(`no region ${regionIndex} in guest memory`);
    const start = Math.ceil(this.#nextFree[regionIndex] / alignBytes) * alignBytes;
    if (start + sizeBytes > region.sizeBytes) {
      throw new RangeError(
        `guest memory region ${regionIndex} is full: ${sizeBytes} bytes wanted, ` +
          `${region.sizeBytes - start} left`,
      );
    }
    this.#nextFree[regionIndex] = start + sizeBytes;
    return this.bufferAt(region, start, sizeBytes);
  }

  /** A buffer at a given offset inside a region (no allocation: for hand-made layouts). */
  bufferAt(region: GuestRegion, offsetInRegion: number, sizeBytes: number): GuestBuffer {
    const fileOffset = region.mmapOffset + offsetInRegion;
    return {
      region,
      guestPhysAddr: region.guestPhysAddr + BigInt(offsetInRegion),
      userspaceAddr: region.userspaceAddr + BigInt(offsetInRegion),
      sizeBytes,
      bytes: new Uint8Array(this.#mapping.buffer, fileOffset, sizeBytes),
    };
  }

  /** Copies bytes out of guest-physical memory. */
  read(address: bigint, sizeBytes: number): Uint8Array {
    const offset = this.offsetOfGuestPhys(address, Math.max(sizeBytes, 1));
    return this.bytes.slice(offset, offset + sizeBytes);
  }

  write(address: bigint, data: Uint8Array): void {
    this.bytes.set(data, this.offsetOfGuestPhys(address, Math.max(data.length, 1)));
  }

  /** Unmaps and closes the memfd (the backend keeps its own mapping until it drops the region). */
  close(): void {
    if (this.#mapping.buffer.byteLength > 0) unmap(this.#mapping);
    closeQuietly(this.fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** A part of a buffer, as its own buffer (a descriptor may cover any part of an allocation). */
export function sliceBuffer(buffer: GuestBuffer, start: number, sizeBytes: number): GuestBuffer {
  if (start < 0 || start + sizeBytes > buffer.sizeBytes) {
    throw new RangeError(`slice ${start}+${sizeBytes} is outside a ${buffer.sizeBytes}-byte buffer`);
  }
  return {
    region: buffer.region,
    guestPhysAddr: buffer.guestPhysAddr + BigInt(start),
    userspaceAddr: buffer.userspaceAddr + BigInt(start),
    sizeBytes,
    bytes: buffer.bytes.subarray(start, start + sizeBytes),
  };
}

/**
 * Two regions in one memfd, laid out like QEMU's x86 RAM split below and above 4 GiB, with
 * frontend-virtual addresses in a different order than the guest-physical ones.
 */
export function splitGuestMemory(sizeBytes = 4 * MiB): GuestMemory {
  const half = sizeBytes / 2;
  return new GuestMemory({
    sizeBytes,
    regions: [
      { guestPhysAddr: 0x0n, userspaceAddr: 0x7f55_0020_0000n, sizeBytes: half, mmapOffset: 0 },
      { guestPhysAddr: 0x1_0000_0000n, userspaceAddr: 0x7f55_0000_0000n, sizeBytes: half, mmapOffset: half },
    ],
  });
}
