#include "textflag.h"

// func prefetchw(p unsafe.Pointer, n uintptr)
//
// PREFETCHW of every cache line of [p, p+n): the assembler has no
// mnemonic for it, so it is written as its bytes, 0F 0D /1 with (AX).
// See prefetch_amd64.go.
TEXT ·prefetchw(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ	p+0(FP), AX
	MOVQ	n+8(FP), CX
	TESTQ	CX, CX
	JEQ	done
	ADDQ	AX, CX
	ANDQ	$-64, AX
line:
	BYTE	$0x0F; BYTE $0x0D; BYTE $0x08 // PREFETCHW (AX)
	ADDQ	$64, AX
	CMPQ	AX, CX
	JCS	line
done:
	RET

// func prefetch(p unsafe.Pointer, n uintptr)
//
// PREFETCHT0 of every cache line of [p, p+n). See prefetch_amd64.go.
TEXT ·prefetch(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ	p+0(FP), AX
	MOVQ	n+8(FP), CX
	TESTQ	CX, CX
	JEQ	done
	ADDQ	AX, CX
	ANDQ	$-64, AX
line:
	PREFETCHT0	(AX)
	ADDQ	$64, AX
	CMPQ	AX, CX
	JCS	line
done:
	RET
