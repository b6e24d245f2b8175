#include "textflag.h"

// func jsonCopyPlain(d, s *byte, n int) bool
//
// jsonCopyPlain copies the n >= 16 bytes at s to d, sixteen at a time
// (the last sixteen overlapping the block before), and reports whether
// every byte is plain: printable ASCII other than '"' and '\\'. A byte is
// plain when, read as a signed byte, it is above 0x1f (this leaves out the
// control characters and every byte from 0x80) and equals neither quote
// nor backslash. The marks of all blocks are ORed and tested every 64
// bytes, so that a string that is not plain stops early. See
// runlog_amd64.go.
TEXT ·jsonCopyPlain(SB), NOSPLIT|NOFRAME, $0-25
	MOVQ	d+0(FP), DI
	MOVQ	s+8(FP), SI
	MOVQ	n+16(FP), CX
	MOVQ	$0x2020202020202020, AX
	MOVQ	AX, X13
	PUNPCKLQDQ	X13, X13
	MOVQ	$0x2222222222222222, AX
	MOVQ	AX, X14
	PUNPCKLQDQ	X14, X14
	MOVQ	$0x5c5c5c5c5c5c5c5c, AX
	MOVQ	AX, X12
	PUNPCKLQDQ	X12, X12
	PXOR	X8, X8
	LEAQ	-16(CX), BX
	XORQ	DX, DX
	CMPQ	BX, $64
	JB	blocks
quad:
	// Four blocks, one test.
	MOVOU	0(SI)(DX*1), X0
	MOVOU	16(SI)(DX*1), X1
	MOVOU	32(SI)(DX*1), X2
	MOVOU	48(SI)(DX*1), X3
	MOVOU	X0, 0(DI)(DX*1)
	MOVOU	X1, 16(DI)(DX*1)
	MOVOU	X2, 32(DI)(DX*1)
	MOVOU	X3, 48(DI)(DX*1)
	MOVO	X13, X4
	PCMPGTB	X0, X4
	MOVO	X0, X5
	PCMPEQB	X14, X5
	PCMPEQB	X12, X0
	POR	X5, X4
	POR	X0, X4
	MOVO	X13, X5
	PCMPGTB	X1, X5
	MOVO	X1, X6
	PCMPEQB	X14, X6
	PCMPEQB	X12, X1
	POR	X6, X5
	POR	X1, X5
	MOVO	X13, X6
	PCMPGTB	X2, X6
	MOVO	X2, X7
	PCMPEQB	X14, X7
	PCMPEQB	X12, X2
	POR	X7, X6
	POR	X2, X6
	MOVO	X13, X7
	PCMPGTB	X3, X7
	MOVO	X3, X9
	PCMPEQB	X14, X9
	PCMPEQB	X12, X3
	POR	X9, X7
	POR	X3, X7
	POR	X5, X4
	POR	X7, X6
	POR	X6, X4
	PMOVMSKB	X4, AX
	TESTL	AX, AX
	JNE	notplain
	ADDQ	$64, DX
	LEAQ	64(DX), AX
	CMPQ	AX, BX
	JBE	quad
blocks:
	CMPQ	DX, BX
	JAE	last
	MOVOU	0(SI)(DX*1), X0
	MOVOU	X0, 0(DI)(DX*1)
	MOVO	X13, X4
	PCMPGTB	X0, X4
	MOVO	X0, X5
	PCMPEQB	X14, X5
	PCMPEQB	X12, X0
	POR	X5, X4
	POR	X0, X4
	POR	X4, X8
	ADDQ	$16, DX
	JMP	blocks
last:
	MOVOU	0(SI)(BX*1), X0
	MOVOU	X0, 0(DI)(BX*1)
	MOVO	X13, X4
	PCMPGTB	X0, X4
	MOVO	X0, X5
	PCMPEQB	X14, X5
	PCMPEQB	X12, X0
	POR	X5, X4
	POR	X0, X4
	POR	X4, X8
	PMOVMSKB	X8, AX
	TESTL	AX, AX
	SETEQ	ret+24(FP)
	RET
notplain:
	MOVB	$0, ret+24(FP)
	RET
