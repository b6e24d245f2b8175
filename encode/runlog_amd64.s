#include "go_asm.h"
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

// func jsonAppendShortMembers(d *byte, room int, attrs *Attr, n, maxValue int, seen uint64) (members, written int, bits uint64)
//
// jsonAppendShortMembers writes the members of attrs[:n] to d as
// ,"key":"value" each, while a member's value is a string of 1 to
// maxValue-1 plain bytes and its key 1 to 16 plain bytes whose keyBit is
// not in seen, and returns how many it wrote, their bytes and seen with
// their keys' bits; it stops at the first member that is not so, whose
// key or value of up to 16 bytes lies within 16 bytes of the end of a
// memory page, or that would not fit in the room left. A string of
// up to 16 bytes is read as one 16-byte load from its start, which stays
// inside its page (as the runtime's memhash reads), its bytes past its
// length shifted out of the plain test, and stored whole; a longer value
// is copied and tested as jsonCopyPlain does, and taken back when it is
// not plain. A member reaches at most 6 bytes past its key and its value
// (16 bytes if shorter). See runlog_amd64.go.
TEXT ·jsonAppendShortMembers(SB), NOSPLIT|NOFRAME, $0-72
	MOVQ	d+0(FP), DI
	MOVQ	room+8(FP), R9
	ADDQ	DI, R9
	MOVQ	attrs+16(FP), SI
	MOVQ	n+24(FP), R13 // members left
	MOVQ	seen+40(FP), R8
	MOVQ	$0x2020202020202020, AX
	MOVQ	AX, X13
	PUNPCKLQDQ	X13, X13
	MOVQ	$0x2222222222222222, AX
	MOVQ	AX, X14
	PUNPCKLQDQ	X14, X14
	MOVQ	$0x5c5c5c5c5c5c5c5c, AX
	MOVQ	AX, X12
	PUNPCKLQDQ	X12, X12
member:
	TESTQ	R13, R13
	JEQ	done
	// The value: a string (its pointer is not one of kindTags and its
	// kind bits say string) of 1 to maxValue-1 bytes.
	MOVQ	(Attr_Value+Value_p)(SI), R11
	LEAQ	·kindTags(SB), CX
	MOVQ	R11, AX
	SUBQ	CX, AX
	CMPQ	AX, $8
	JB	done
	MOVQ	(Attr_Value+Value_num)(SI), DX
	MOVQ	DX, AX
	ANDQ	$const_kindMask, AX
	CMPQ	AX, $const_KindString
	JNE	done
	SHRQ	$const_kindBits, DX
	JEQ	done
	CMPQ	DX, maxValue+32(FP)
	JAE	done
	// The key: 1 to 16 bytes.
	MOVQ	(Attr_Key+0)(SI), R10
	MOVQ	(Attr_Key+8)(SI), BX
	LEAQ	-1(BX), AX
	CMPQ	AX, $15
	JA	done
	// The room: 6 bytes and the strings, the value counted as 16 bytes
	// at least (its store).
	MOVQ	DX, AX
	CMPQ	AX, $16
	JAE	sized
	MOVQ	$16, AX
sized:
	LEAQ	6(DI)(AX*1), AX
	ADDQ	BX, AX
	CMPQ	AX, R9
	JA	done
	// The key's load stays in its page.
	MOVL	R10, AX
	ANDL	$0xfff, AX
	CMPL	AX, $0xff0
	JA	done
	MOVOU	(R10), X0
	MOVO	X13, X2
	PCMPGTB	X0, X2
	MOVO	X0, X3
	PCMPEQB	X14, X3
	POR	X3, X2
	MOVO	X0, X3
	PCMPEQB	X12, X3
	POR	X3, X2
	PMOVMSKB	X2, R12
	// A mark at i < length shifted left by 32 - length stays in the
	// 32 bits; the marks past the length leave them.
	MOVL	$32, CX
	SUBL	BX, CX
	SHLL	CX, R12
	// The key's bit (keyBit: its length, first and last bytes), which
	// a member written before may not hold: R10 no longer needs the
	// key's address.
	MOVBLZX	(R10), AX
	MOVBLZX	-1(R10)(BX*1), CX
	LEAQ	(CX)(AX*2), CX
	LEAQ	(CX)(BX*8), CX
	MOVL	$1, R10
	SHLQ	CX, R10 // the count is taken mod 64
	TESTQ	R10, R8
	JNE	done
	CMPQ	DX, $16
	JA	long
	// A short value: its load stays in its page, and it is plain.
	MOVL	R11, AX
	ANDL	$0xfff, AX
	CMPL	AX, $0xff0
	JA	done
	MOVOU	(R11), X1
	MOVO	X13, X4
	PCMPGTB	X1, X4
	MOVO	X1, X5
	PCMPEQB	X14, X5
	POR	X5, X4
	MOVO	X1, X5
	PCMPEQB	X12, X5
	POR	X5, X4
	PMOVMSKB	X4, AX
	MOVL	$32, CX
	SUBL	DX, CX
	SHLL	CX, AX
	ORL	AX, R12
	JNE	done
	// ,"key":"value"
	MOVW	$0x222c, (DI)
	MOVOU	X0, 2(DI)
	ADDQ	BX, DI
	MOVL	$0x22223a22, 2(DI)
	MOVOU	X1, 5(DI)
	ADDQ	DX, DI
	MOVB	$0x22, 5(DI)
	ADDQ	$6, DI
	ADDQ	$Attr__size, SI
	ORQ	R10, R8
	DECQ	R13
	JMP	member
long:
	// A long value: ,"key":" then the value copied and tested sixteen
	// bytes at a time, the last sixteen overlapping, then its quote; a
	// value that is not plain is taken back.
	TESTL	R12, R12
	JNE	done
	MOVW	$0x222c, (DI)
	MOVOU	X0, 2(DI)
	ADDQ	BX, DI
	MOVL	$0x22223a22, 2(DI)
	ADDQ	$5, DI
	PXOR	X8, X8
	XORQ	CX, CX
	LEAQ	-16(DX), AX
block:
	MOVOU	(R11)(CX*1), X1
	MOVOU	X1, (DI)(CX*1)
	MOVO	X13, X4
	PCMPGTB	X1, X4
	MOVO	X1, X5
	PCMPEQB	X14, X5
	POR	X5, X4
	PCMPEQB	X12, X1
	POR	X1, X4
	POR	X4, X8
	ADDQ	$16, CX
	CMPQ	CX, AX
	JB	block
	MOVOU	(R11)(AX*1), X1
	MOVOU	X1, (DI)(AX*1)
	MOVO	X13, X4
	PCMPGTB	X1, X4
	MOVO	X1, X5
	PCMPEQB	X14, X5
	POR	X5, X4
	PCMPEQB	X12, X1
	POR	X1, X4
	POR	X4, X8
	PMOVMSKB	X8, CX
	TESTL	CX, CX
	JNE	takeback
	ADDQ	DX, DI
	MOVB	$0x22, (DI)
	INCQ	DI
	ADDQ	$Attr__size, SI
	ORQ	R10, R8
	DECQ	R13
	JMP	member
takeback:
	SUBQ	BX, DI
	SUBQ	$5, DI
done:
	MOVQ	n+24(FP), AX
	SUBQ	R13, AX
	MOVQ	AX, members+48(FP)
	SUBQ	d+0(FP), DI
	MOVQ	DI, written+56(FP)
	MOVQ	R8, bits+64(FP)
	RET

DATA	runlogNodeKeys<>+0(SB)/8, $0x5f65646f6e222c22
DATA	runlogNodeKeys<>+8(SB)/8, $0x00223a2265707974
DATA	runlogNodeKeys<>+16(SB)/8, $0x5f65646f6e222c22
DATA	runlogNodeKeys<>+24(SB)/8, $0x00223a22656d616e
DATA	runlogNodeKeys<>+32(SB)/8, $0x5f636e7566222c22
DATA	runlogNodeKeys<>+40(SB)/8, $0x000000223a226469
DATA	runlogNodeKeys<>+48(SB)/8, $0x5f636e7566222c22
DATA	runlogNodeKeys<>+56(SB)/8, $0x00223a2265707974
DATA	runlogNodeKeys<>+64(SB)/8, $0x5f636e7566222c22
DATA	runlogNodeKeys<>+72(SB)/8, $0x00223a22656d616e
DATA	runlogNodeKeys<>+80(SB)/8, $0x5f7478656e222c22
DATA	runlogNodeKeys<>+88(SB)/8, $0x227364695f676f6c
GLOBL	runlogNodeKeys<>(SB), RODATA|NOPTR, $96

// func runlogAppendNodeNames(d *byte, n *Node) (written int)
//
// runlogAppendNodeNames writes n's node_id, node_type and node_name
// values and their func_* copies with the keys between them, from the
// first value to the "[" of next_log_ids, and returns their length, when
// each of the three is empty or 1 to 16 plain bytes that it can read as
// one 16-byte load in its page (as jsonAppendShortMembers); it returns -1,
// writing nothing that counts, otherwise. Each string is loaded and tested
// once and stored twice; d has room for runlogNodeNamesRoom bytes. See
// runlog_amd64.go.
TEXT ·runlogAppendNodeNames(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ	n+8(FP), SI
	MOVQ	$0x2020202020202020, AX
	MOVQ	AX, X13
	PUNPCKLQDQ	X13, X13
	MOVQ	$0x2222222222222222, AX
	MOVQ	AX, X14
	PUNPCKLQDQ	X14, X14
	MOVQ	$0x5c5c5c5c5c5c5c5c, AX
	MOVQ	AX, X12
	PUNPCKLQDQ	X12, X12
	MOVQ	(Node_NodeID+0)(SI), R8
	MOVQ	(Node_NodeID+8)(SI), R9
	MOVQ	(Node_NodeType+0)(SI), R10
	MOVQ	(Node_NodeType+8)(SI), R11
	MOVQ	(Node_NodeName+0)(SI), R12
	MOVQ	(Node_NodeName+8)(SI), R13
	CMPQ	R9, $16
	JA	fail
	PXOR	X0, X0
	TESTQ	R9, R9
	JEQ	id
	MOVL	R8, AX
	ANDL	$0xfff, AX
	CMPL	AX, $0xff0
	JA	fail
	MOVOU	(R8), X0
	MOVO	X13, X3
	PCMPGTB	X0, X3
	MOVO	X0, X4
	PCMPEQB	X14, X4
	POR	X4, X3
	MOVO	X0, X4
	PCMPEQB	X12, X4
	POR	X4, X3
	PMOVMSKB	X3, AX
	MOVL	$32, CX
	SUBL	R9, CX
	SHLL	CX, AX
	TESTL	AX, AX
	JNE	fail
id:
	CMPQ	R11, $16
	JA	fail
	PXOR	X1, X1
	TESTQ	R11, R11
	JEQ	type
	MOVL	R10, AX
	ANDL	$0xfff, AX
	CMPL	AX, $0xff0
	JA	fail
	MOVOU	(R10), X1
	MOVO	X13, X3
	PCMPGTB	X1, X3
	MOVO	X1, X4
	PCMPEQB	X14, X4
	POR	X4, X3
	MOVO	X1, X4
	PCMPEQB	X12, X4
	POR	X4, X3
	PMOVMSKB	X3, AX
	MOVL	$32, CX
	SUBL	R11, CX
	SHLL	CX, AX
	TESTL	AX, AX
	JNE	fail
type:
	CMPQ	R13, $16
	JA	fail
	PXOR	X2, X2
	TESTQ	R13, R13
	JEQ	name
	MOVL	R12, AX
	ANDL	$0xfff, AX
	CMPL	AX, $0xff0
	JA	fail
	MOVOU	(R12), X2
	MOVO	X13, X3
	PCMPGTB	X2, X3
	MOVO	X2, X4
	PCMPEQB	X14, X4
	POR	X4, X3
	MOVO	X2, X4
	PCMPEQB	X12, X4
	POR	X4, X3
	PMOVMSKB	X3, AX
	MOVL	$32, CX
	SUBL	R13, CX
	SHLL	CX, AX
	TESTL	AX, AX
	JNE	fail
name:
	MOVQ	d+0(FP), DI
	MOVQ	DI, DX
	MOVOU	X0, (DI)
	ADDQ	R9, DI
	MOVOU	runlogNodeKeys<>+0(SB), X7
	MOVOU	X7, (DI)
	ADDQ	$15, DI
	MOVOU	X1, (DI)
	ADDQ	R11, DI
	MOVOU	runlogNodeKeys<>+16(SB), X7
	MOVOU	X7, (DI)
	ADDQ	$15, DI
	MOVOU	X2, (DI)
	ADDQ	R13, DI
	MOVOU	runlogNodeKeys<>+32(SB), X7
	MOVOU	X7, (DI)
	ADDQ	$13, DI
	MOVOU	X0, (DI)
	ADDQ	R9, DI
	MOVOU	runlogNodeKeys<>+48(SB), X7
	MOVOU	X7, (DI)
	ADDQ	$15, DI
	MOVOU	X1, (DI)
	ADDQ	R11, DI
	MOVOU	runlogNodeKeys<>+64(SB), X7
	MOVOU	X7, (DI)
	ADDQ	$15, DI
	MOVOU	X2, (DI)
	ADDQ	R13, DI
	MOVOU	runlogNodeKeys<>+80(SB), X7
	MOVOU	X7, (DI)
	MOVW	$0x5b3a, 16(DI)
	ADDQ	$18, DI
	SUBQ	DX, DI
	MOVQ	DI, written+16(FP)
	RET
fail:
	MOVQ	$-1, written+16(FP)
	RET
