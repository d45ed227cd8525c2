// Test support for src/vm: QEMU 7.2's own aarch64 virt tree, dumped once and kept gzipped:
//   qemu-system-aarch64 -machine virt,accel=tcg -cpu cortex-a57 -smp 1 -m 256M -nodefaults \
//     -display none -machine dumpdtb=qemu-7.2-virt.dtb && gzip -9 -n qemu-7.2-virt.dtb
// (1 MiB with QEMU's free space; 32 virtio-mmio transports a000000..a003e00.)

export const QEMU_VIRT_DTB_GZ = new URL("./fixtures/qemu-7.2-virt.dtb.gz", import.meta.url);

export async function qemuVirtDtb(): Promise<Uint8Array> {
  const stream = (await Deno.open(QEMU_VIRT_DTB_GZ)).readable.pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
