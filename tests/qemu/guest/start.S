/*
 * Multiboot (v1) entry point of the fixedram test guest.
 *
 * QEMU's -kernel loader recognises the header below, loads the ELF32 image
 * at 1 MiB and jumps to _start in 32-bit protected mode with paging off and
 * interrupts disabled, EAX = the multiboot bootloader magic and EBX = the
 * address of the multiboot information (with the -append command line).  We
 * only set up a stack and call guest_main(magic, mbi), which never returns.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000000

        .section .multiboot, "a"
        .p2align 2
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .section .bss
        .p2align 4
stack_bottom:
        .skip 16384
stack_top:

        .section .text
        .globl _start
        .type _start, @function
_start:
        cli
        movl $stack_top, %esp
        xorl %ebp, %ebp
        cld
        pushl %ebx              /* mbi */
        pushl %eax              /* magic */
        call guest_main
1:      hlt
        jmp 1b
        .size _start, . - _start

        /* no executable stack */
        .section .note.GNU-stack, "", @progbits
