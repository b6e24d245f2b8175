//go:build !race

#include "textflag.h"

// func storeRelease(w *atomic.Uint64, v uint64)
//
// A plain MOV: on amd64 (total store order) every store is a release
// store, and a call to assembly is one the compiler moves no memory
// access across. See release_amd64.go.
TEXT ·storeRelease(SB), NOSPLIT, $0-16
	MOVQ	w+0(FP), AX
	MOVQ	v+8(FP), BX
	MOVQ	BX, (AX)
	RET

// func storeReleaseInt64(w *atomic.Int64, v int64)
TEXT ·storeReleaseInt64(SB), NOSPLIT, $0-16
	MOVQ	w+0(FP), AX
	MOVQ	v+8(FP), BX
	MOVQ	BX, (AX)
	RET
