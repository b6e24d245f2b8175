//go:build !amd64

package encode

import "unsafe"

// jsonCopyPlain copies the n bytes at s to d and reports whether each is
// plain (jsonPlain): see runlog_amd64.go.
func jsonCopyPlain(d, s *byte, n int) bool {
	src := unsafe.String(s, n)
	copy(unsafe.Slice(d, n), src)
	return jsonIsPlain(src)
}

// jsonAppendShortMembers is jsonAppendShortMembersWords on this
// architecture: see runlog_amd64.go.
func jsonAppendShortMembers(d *byte, room int, attrs *Attr, n, maxValue int, seen uint64) (members, written int, bits uint64) {
	return jsonAppendShortMembersWords(d, attrs, n, seen)
}

// runlogAppendNodeNames writes nothing on this architecture (see
// runlog_amd64.go): appendNodeIDs writes the names.
func runlogAppendNodeNames(d *byte, n *Node) (written int) { return -1 }
