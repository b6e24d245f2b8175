#include "textflag.h"

// func Lines(p unsafe.Pointer, n uintptr)
//
// PREFETCHT0 of every cache line of [p, p+n). See prefetch_amd64.go.
TEXT ·Lines(SB), NOSPLIT|NOFRAME, $0-16
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
