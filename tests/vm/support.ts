// Test support for src/vm: QEMU 7.2's own aarch64 virt tree, dumped once and kept gzipped:
//   qemu-system-aarch64 -machine virt,accel=tcg -cpu cortex-a57 -smp 1 -m 256M -nodefaults \
//     -display none -machine dumpdtb=qemu-7.2-virt.dtb && gzip -9 -n qemu-7.2-virt.dtb
// (1 MiB with QEMU's free space; 32 virtio-mmio transports a000000..a003e00.)

export const QEMU_VIRT_DTB_GZ = new URL("./fixtures/qemu-7.2-virt.dtb.gz", import.meta.url);

async function gunzip(url: URL): Promise<Uint8Array> {
  const stream = (await Deno.open(url)).readable.pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function qemuVirtDtb(): Promise<Uint8Array> {
  return gunzip(QEMU_VIRT_DTB_GZ);
}

// QEMU 7.2's xlnx-versal-virt tree: 8 virtio-mmio transports a0000000..a0000e00 and two Cadence
// GEMs (ethernet@ff0c0000, ethernet@ff0d0000) with a fixed-link each:
//   qemu-system-aarch64 -machine xlnx-versal-virt -m 512M -nodefaults -display none \
//     -machine dumpdtb=qemu-7.2-xlnx-versal-virt.dtb && gzip -9 -n qemu-7.2-xlnx-versal-virt.dtb
export const QEMU_VERSAL_DTB_GZ = new URL("./fixtures/qemu-7.2-xlnx-versal-virt.dtb.gz", import.meta.url);

export function qemuVersalDtb(): Promise<Uint8Array> {
  return gunzip(QEMU_VERSAL_DTB_GZ);
}
