package testkit

import (
	"math/rand/v2"
	"slices"
)

// mutateAlphabet holds the bytes Mutate inserts: the propagation headers'
// delimiters, hex digits of both cases, whitespace, bytes outside ASCII
// and controls.
const mutateAlphabet = "0123456789abcdefABCDEF-=,;% \t@_*/.!~xyzXYZ\"\\\x00\x7f\xc3\xa9\xff"

// Mutate applies one to three random edits to s (insert, replace or
// delete a byte, upper-case a letter, cut the tail), for property tests
// that compare two parsers on corrupted headers.
func Mutate(r *rand.Rand, s string) string {
	b := []byte(s)
	for range 1 + r.IntN(3) {
		c := mutateAlphabet[r.IntN(len(mutateAlphabet))]
		switch op := r.IntN(5); {
		case len(b) == 0 || op == 0:
			i := r.IntN(len(b) + 1)
			b = slices.Insert(b, i, c)
		case op == 1:
			b[r.IntN(len(b))] = c
		case op == 2:
			i := r.IntN(len(b))
			b = slices.Delete(b, i, i+1)
		case op == 3:
			i := r.IntN(len(b))
			if b[i] >= 'a' && b[i] <= 'z' {
				b[i] -= 'a' - 'A'
			}
		default:
			b = b[:r.IntN(len(b)+1)]
		}
	}
	return string(b)
}
