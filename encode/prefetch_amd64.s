// Offsets and sizes of encode's types, so that a change of Node follows.
#include "go_asm.h"
#include "textflag.h"

// func prefetchRanges(rs *[prefetchMax]prefetchRange)
//
// PREFETCHT0 of every cache line of each range [p, p+n): a hint that
// retires at once, where a load of a line another core holds waits for
// it. See prefetch_amd64.go.
TEXT ·prefetchRanges(SB), NOSPLIT|NOFRAME, $0-8
	MOVQ	rs+0(FP), SI
	MOVQ	$const_prefetchMax, DX
next:
	MOVQ	0(SI), AX
	MOVQ	8(SI), CX
	TESTQ	CX, CX
	JEQ	skip
	ADDQ	AX, CX
	ANDQ	$-64, AX
line:
	PREFETCHT0	(AX)
	ADDQ	$64, AX
	CMPQ	AX, CX
	JCS	line
skip:
	ADDQ	$prefetchRange__size, SI
	DECQ	DX
	JNE	next
	RET

// PREFETCH_SLICE prefetches the elements, of size bytes each, of the slice
// header at off(BX); it uses AX and CX and the labels lbl and done.
#define PREFETCH_SLICE(off, size, lbl, done) \
	MOVQ	(off+8)(BX), CX \
	IMULQ	$size, CX \
	TESTQ	CX, CX \
	JEQ	done \
	MOVQ	off(BX), AX \
	ADDQ	AX, CX \
	ANDQ	$-64, AX \
lbl: \
	PREFETCHT0	(AX) \
	ADDQ	$64, AX \
	CMPQ	AX, CX \
	JCS	lbl \
done:

// func prefetchNodes(next, ahead *Node)
TEXT ·prefetchNodes(SB), NOSPLIT|NOFRAME, $0-16
	MOVQ	ahead+8(FP), AX
	TESTQ	AX, AX
	JEQ	parts
	MOVQ	AX, CX
	ADDQ	$Node__size, CX
	ANDQ	$-64, AX
struct:
	PREFETCHT0	(AX)
	ADDQ	$64, AX
	CMPQ	AX, CX
	JCS	struct
parts:
	MOVQ	next+0(FP), BX
	TESTQ	BX, BX
	JEQ	end
	PREFETCH_SLICE(Node_Input, Attr__size, in, indone)
	PREFETCH_SLICE(Node_Output, Attr__size, out, outdone)
	PREFETCH_SLICE(Node_Config, Attr__size, cfg, cfgdone)
	PREFETCH_SLICE(Node_Next, 16, nxt, nxtdone) // strings
	PREFETCH_SLICE(Node_Events, Event__size, ev, evdone)
end:
	RET

