// Guest memory as the frontend described it (SET_MEM_TABLE / ADD_MEM_REG): one shared mapping per
// region, one ArrayBuffer view per mapping made once, and bounds-checked translation of
// guest-physical addresses (descriptors) and frontend-virtual addresses (ring addresses).
import { closeQuietly, fileSize, mapShared, type SharedMapping, unmap } from "../native/syscalls.ts";

export class GuestMemoryError extends Error {
  override name = "GuestMemoryError";
}

export interface RegionDescription {
  guestPhysAddr: number;
  sizeBytes: number;
  userAddr: number;
  mmapOffset: number;
}

export interface MemoryRegion extends RegionDescription {
  readonly mapping: SharedMapping;
  /** The region's bytes (the mapping from mmapOffset on). */
  bytes: Uint8Array;
  view: DataView;
}

/** A location inside one region. */
export interface Location {
  region: MemoryRegion;
  offset: number;
}

/** Largest region we map; QEMU's RAM blocks are far below this, a hostile size is not. */
const MAX_REGION_BYTES = 2 ** 40;

function validate(d: RegionDescription): void {
  const values = [d.guestPhysAddr, d.sizeBytes, d.userAddr, d.mmapOffset];
  if (!values.every(Number.isSafeInteger) || values.some((v) => v < 0)) {
    throw new GuestMemoryError("region address, size or offset is not a representable non-negative integer");
  }
  if (d.sizeBytes === 0 || d.sizeBytes > MAX_REGION_BYTES) {
    throw new GuestMemoryError(`region size ${d.sizeBytes} is not in 1..${MAX_REGION_BYTES}`);
  }
  if (
    !Number.isSafeInteger(d.guestPhysAddr + d.sizeBytes) || !Number.isSafeInteger(d.userAddr + d.sizeBytes)
  ) {
    throw new GuestMemoryError("region end overflows the address space");
  }
}

export class GuestMemory {
  #regions: MemoryRegion[] = [];
  /** The region the last buffer was found in; forgotten whenever the table changes. */
  #lastHit: MemoryRegion | undefined;
  /** Bumped on every change, so holders of translated views know to translate again. */
  generation = 0;

  get regions(): readonly MemoryRegion[] {
    return this.#regions;
  }

  /**
   * Maps a region from fd and closes fd (the mapping keeps the memory alive). mmap covers
   * mmapOffset + size from file offset 0: mmap_offset need not be page aligned.
   */
  add(description: RegionDescription, fd: number, maxRegions: number): void {
    try {
      validate(description);
      if (this.#regions.length >= maxRegions) {
        throw new GuestMemoryError(`no free memory slot (${maxRegions} in use)`);
      }
      for (const r of this.#regions) {
        const overlaps = description.guestPhysAddr < r.guestPhysAddr + r.sizeBytes &&
          r.guestPhysAddr < description.guestPhysAddr + description.sizeBytes;
        if (overlaps) throw new GuestMemoryError("region overlaps an existing region's guest-physical range");
      }
      // Touching a page past the end of the file is SIGBUS, which kills the process: refuse
      // instead. (A frontend could still shrink an unsealed memfd later; QEMU seals its own.)
      const available = fileSize(fd);
      if (description.mmapOffset + description.sizeBytes > available) {
        throw new GuestMemoryError(
          `region of ${description.sizeBytes} bytes at offset ${description.mmapOffset} is larger than its file (${available} bytes)`,
        );
      }
      const mapping = mapShared(fd, description.mmapOffset + description.sizeBytes);
      const bytes = new Uint8Array(mapping.buffer, description.mmapOffset, description.sizeBytes);
      const view = new DataView(mapping.buffer, description.mmapOffset, description.sizeBytes);
      this.#regions.push({ ...description, mapping, bytes, view });
      this.#changed();
    } finally {
      closeQuietly(fd);
    }
  }

  /** REM_MEM_REG: the region with the same guest address, size and user address. */
  remove(description: RegionDescription): void {
    const index = this.#regions.findIndex((r) =>
      r.guestPhysAddr === description.guestPhysAddr && r.sizeBytes === description.sizeBytes &&
      r.userAddr === description.userAddr
    );
    if (index < 0) throw new GuestMemoryError("no such region to remove");
    const [region] = this.#regions.splice(index, 1);
    release(region);
    this.#changed();
  }

  clear(): void {
    for (const region of this.#regions) release(region);
    if (this.#regions.length) this.#changed();
    this.#regions = [];
  }

  #changed(): void {
    this.generation++;
    this.#lastHit = undefined;
  }

  /** Guest-physical [address, address + length) inside one region, or an error. */
  fromGuestPhysical(address: number, length: number): Location {
    for (const region of this.#regions) {
      const offset = address - region.guestPhysAddr;
      if (offset >= 0 && offset + length <= region.sizeBytes) return { region, offset };
    }
    throw new GuestMemoryError(
      `guest-physical range 0x${address.toString(16)}+${length} is outside guest memory`,
    );
  }

  /** Frontend-virtual [address, address + length) inside one region, or an error. */
  fromFrontendVirtual(address: number, length: number): Location {
    for (const region of this.#regions) {
      const offset = address - region.userAddr;
      if (offset >= 0 && offset + length <= region.sizeBytes) return { region, offset };
    }
    throw new GuestMemoryError(
      `frontend-virtual range 0x${address.toString(16)}+${length} is outside guest memory`,
    );
  }

  /** The bytes of a guest-physical buffer. */
  bytes(address: number, length: number): Uint8Array {
    // Hot path (every descriptor): almost every buffer lies in the region the last one did.
    const last = this.#lastHit;
    if (last) {
      const offset = address - last.guestPhysAddr;
      if (offset >= 0 && offset + length <= last.sizeBytes) {
        return last.bytes.subarray(offset, offset + length);
      }
    }
    const { region, offset } = this.fromGuestPhysical(address, length);
    this.#lastHit = region;
    return region.bytes.subarray(offset, offset + length);
  }
}

function release(region: MemoryRegion): void {
  // unmap detaches the ArrayBuffer first, so a stale view reads as empty instead of faulting.
  unmap(region.mapping);
}
