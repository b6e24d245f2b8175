#include "go_asm.h"
#include "textflag.h"

// func tsc() uint64
TEXT ·tsc(SB), NOSPLIT, $0-8
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET

// func cpuid(leaf uint32) (a, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-16
	MOVL	leaf+0(FP), AX
	XORL	CX, CX
	CPUID
	MOVL	AX, a+8(FP)
	MOVL	DX, d+12(FP)
	RET

// func clockNow(c *clock) int64
//
// clock.now (see clock_amd64.go): the sequence, the slope (0: no line,
// time.Since instead: a tail call to clockSince, whose arguments and
// result are laid out as this function's), the line's counter reading and
// monotonic time, the counter, the sequence again (retried when it moved
// or was odd: the pipeline was drawing a line); then the ticks since the
// line's reading, 0 when negative (another core's counter), times the
// slope in 32.32 fixed point, added to the line's time. On amd64 loads
// are not reordered with other loads, so plain moves are the atomic
// loads of clock's fields, each an atomic whose value is at its offset
// (TestStoreRelease checks the same of atomic.Uint64).
TEXT ·clockNow(SB), NOSPLIT, $0-16
	MOVQ	c+0(FP), SI
retry:
	MOVQ	clock_seq(SI), R8
	MOVQ	clock_mult(SI), R9
	TESTQ	R9, R9
	JZ	none
	MOVQ	clock_tick(SI), R10
	MOVQ	clock_mono(SI), R11
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	CMPQ	R8, clock_seq(SI)
	JNE	retry
	TESTQ	$1, R8
	JNZ	retry
	XORL	CX, CX
	SUBQ	R10, AX
	CMOVQMI	CX, AX
	MULQ	R9
	SHRQ	$32, AX
	SHLQ	$32, DX
	ORQ	DX, AX
	ADDQ	R11, AX
	MOVQ	AX, ret+8(FP)
	RET
none:
	JMP	·clockSince(SB)
