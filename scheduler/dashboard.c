/* dashboard.c -- scheduler/dashboard.html as bytes in the binary. The
 * assembler's .incbin reads the file at build time, from the directory make
 * runs in (the Makefile names the file as a prerequisite, so an edit
 * rebuilds this object); no generated source, no tool beyond the compiler. */
#include "dashboard.h"

__asm__(".section .rodata\n"
        ".balign 16\n"
        ".globl haul_dashboard_start_\n"
        ".hidden haul_dashboard_start_\n"
        "haul_dashboard_start_:\n"
        ".incbin \"scheduler/dashboard.html\"\n"
        ".globl haul_dashboard_end_\n"
        ".hidden haul_dashboard_end_\n"
        "haul_dashboard_end_:\n"
        ".byte 0\n"
        ".previous\n");

extern const char haul_dashboard_start_[], haul_dashboard_end_[];

const char *haul_dashboard_html(void) { return haul_dashboard_start_; }
size_t haul_dashboard_len(void) { return (size_t)(haul_dashboard_end_ - haul_dashboard_start_); }
