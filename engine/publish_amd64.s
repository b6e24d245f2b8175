//go:build !race

#include "go_asm.h"
#include "textflag.h"

// func publishNode(sw *atomic.Uint64, w uint64, next *nodeRecord)
//
// The store (storeRelease's MOV), then, when next is not nil, PREFETCHW
// (written as its bytes: see prefetch_amd64.s) of the lines of next up to
// nodeStart and of the first 4 lines of its pool. Node records start on a
// cache line (their size class is a multiple of 64 bytes), and so does
// pool. See publish_amd64.go.
TEXT ·publishNode(SB), NOSPLIT|NOFRAME, $0-24
	MOVQ	sw+0(FP), AX
	MOVQ	w+8(FP), BX
	MOVQ	BX, (AX)
	MOVQ	next+16(FP), AX
	TESTQ	AX, AX
	JEQ	done
	LEAQ	nodeRecord_pool(AX), DX
	LEAQ	const_nodeStart(AX), CX
head:
	BYTE	$0x0F; BYTE $0x0D; BYTE $0x08 // PREFETCHW (AX)
	ADDQ	$64, AX
	CMPQ	AX, CX
	JCS	head
	BYTE	$0x0F; BYTE $0x0D; BYTE $0x0A // PREFETCHW (DX)
	BYTE	$0x0F; BYTE $0x0D; BYTE $0x4A; BYTE $0x40 // PREFETCHW 64(DX)
	ADDQ	$128, DX
	BYTE	$0x0F; BYTE $0x0D; BYTE $0x0A // PREFETCHW (DX)
	BYTE	$0x0F; BYTE $0x0D; BYTE $0x4A; BYTE $0x40 // PREFETCHW 64(DX)
done:
	RET
