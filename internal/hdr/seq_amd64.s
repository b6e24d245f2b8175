//go:build !race

#include "textflag.h"

// func storeSeq(w *atomic.Uint64, v uint64)
//
// A plain MOV: on amd64 (total store order) every store is a release
// store, and a call to assembly is one the compiler moves no memory
// access across. See seq_amd64.go.
TEXT ·storeSeq(SB), NOSPLIT, $0-16
	MOVQ	w+0(FP), AX
	MOVQ	v+8(FP), BX
	MOVQ	BX, (AX)
	RET

// func beginSeq(w *atomic.Uint64) uint64
//
// fenced is read on every call and set once, at init: the branch is
// always predicted. See seq_amd64.go.
TEXT ·beginSeq(SB), NOSPLIT, $0-16
	MOVQ	w+0(FP), AX
	CMPB	·fenced(SB), $0
	JEQ	locked
	MOVQ	(AX), BX
	INCQ	BX
	MOVQ	BX, (AX)
	MOVQ	BX, ret+8(FP)
	RET
locked:
	MOVQ	$1, BX
	LOCK
	XADDQ	BX, (AX)
	INCQ	BX
	MOVQ	BX, ret+8(FP)
	RET
