/* SPDX-License-Identifier: MIT */
/*
 * The e2e layer's guest for the kernel's mbochs sample vGPU: a multiboot kernel (QEMU's -kernel loads it, SeaBIOS
 * runs it in 32-bit protected mode) that reads the vGPU's EDID the way a guest driver does, says on the serial port
 * which mode it prefers, and halts.
 *
 * QEMU writes an EDID into a device's EDID region (VFIO_REGION_SUBTYPE_GFX_EDID, hw/vfio/display.c): its preferred
 * mode is the vfio-pci device's xres x yres, else the type's maximum the region reports (mbochs-small: 800x600).
 * mbochs shows that EDID to the guest at offset 0 of its register BAR (BAR2; samples/vfio-mdev/mbochs.c), 128 bytes,
 * while the link is up. So the mode printed here is what vgpu.xres and vgpu.yres made of it, end to end.
 *
 * It does not set the mode or paint: a dmabuf display needs a GL display that can import dma-bufs, and Debian 12 has
 * none without a GPU (tests/e2e/scenarios/mbochs-gtk.sh says why). QEMU's own -device secondary-vga is the same
 * device with the same EDID block, for trying this without mbochs.
 *
 * Output, one line: "mbochs-edid: preferred mode WxH" or "mbochs-edid: no EDID" or "mbochs-edid: no mbochs device".
 * Built by tests/e2e/setup.sh with gcc -m32 -ffreestanding and mbochs-edid.ld.
 */
#include <stdint.h>

#define MB_MAGIC 0x1BADB002u
#define MB_FLAGS 0u

/* The multiboot header: the linker script puts .multiboot first, well within the first 8 KiB of the file. */
__attribute__((section(".multiboot"), used, aligned(4))) static const uint32_t multiboot[3] = {
	MB_MAGIC,
	MB_FLAGS,
	-(MB_MAGIC + MB_FLAGS),
};

static uint8_t stack[16384] __attribute__((aligned(16), used));

void edid_main(void);

/* Multiboot leaves the stack undefined: set one, run, then halt for good. */
__asm__(".section .text\n"
	".globl _start\n"
	"_start:\n"
	"	mov $stack + 16384, %esp\n"
	"	call edid_main\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n");

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* COM1, as the firmware left it. Without a serial device the line status reads 0xff: nothing blocks. */
static void puts_serial(const char *s)
{
	for (; *s; s++) {
		while (!(inb(0x3f8 + 5) & 0x20))
			;
		outb(0x3f8, (uint8_t)*s);
	}
}

static void putu_serial(uint32_t v)
{
	char buf[11], *p = buf + sizeof(buf) - 1;

	*p = 0;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts_serial(p);
}

static uint32_t pci_read(uint32_t dev, uint32_t reg)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc));
	return inl(0xcfc);
}

static void pci_write(uint32_t dev, uint32_t reg, uint32_t v)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (reg & 0xfc));
	outl(0xcfc, v);
}

/* The first detailed timing of a valid EDID block at mmio, or 0. */
static int edid_mode(volatile const uint8_t *mmio, uint32_t *ret_w, uint32_t *ret_h)
{
	static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	uint8_t e[128], sum = 0;

	for (unsigned i = 0; i < 128; i++) {
		e[i] = mmio[i];
		sum += e[i];
	}
	for (unsigned i = 0; i < 8; i++)
		if (e[i] != header[i])
			return 0;
	/* A detailed timing descriptor has a non-zero pixel clock (bytes 54-55). */
	if (sum != 0 || (e[54] == 0 && e[55] == 0))
		return 0;
	*ret_w = e[56] | (uint32_t)(e[58] & 0xf0) << 4;
	*ret_h = e[59] | (uint32_t)(e[61] & 0xf0) << 4;
	return 1;
}

void edid_main(void)
{
	uint32_t dev, mmio_base, w, h;

	/* mbochs: 1234:1111, class 0x0380 ("display, other"); QEMU's std VGA has the IDs too, but class 0x0300. */
	for (dev = 0; dev < 32; dev++)
		if (pci_read(dev, 0) == 0x11111234u && pci_read(dev, 8) >> 16 == 0x0380)
			break;
	if (dev == 32) {
		puts_serial("mbochs-edid: no mbochs device\n");
		return;
	}
	/* SeaBIOS assigns the BARs; should it not have, give BAR2 an address of our own. */
	mmio_base = pci_read(dev, 0x18) & ~0xfu;
	if (!mmio_base) {
		pci_write(dev, 0x18, 0xe4000000u);
		mmio_base = pci_read(dev, 0x18) & ~0xfu;
	}
	pci_write(dev, 4, pci_read(dev, 4) | 0x2); /* memory decoding on */
	if (!edid_mode((volatile const uint8_t *)mmio_base, &w, &h)) {
		puts_serial("mbochs-edid: no EDID\n");
		return;
	}
	puts_serial("mbochs-edid: preferred mode ");
	putu_serial(w);
	puts_serial("x");
	putu_serial(h);
	puts_serial("\n");
}
