package encode

// jsonCopyPlain copies the n bytes at s to d and reports whether each is
// plain (jsonPlain), sixteen bytes per SSE2 test, where jsonIsPlain's
// word tests take eight, followed by a second pass that copies them: a
// run log's long values (an LLM's output, a question, a URL) are checked
// as they are copied. n is at least 16; d has room for n bytes. When it
// reports false, d holds some of s's bytes, which the caller overwrites.
//
//go:noescape
func jsonCopyPlain(d, s *byte, n int) bool

// jsonAppendShortMembers writes the members of attrs[:n] that
// appendObject's usual case is made of, each as ,"key":"value", to d and
// returns how many it wrote, their bytes and seen with the keyBit of each
// of their keys: it stops at the first member whose value is not a string
// or whose key or value is not plain, whose key is empty or longer than
// 16 bytes, whose key's bit is in seen (a repeat, or a collision, which
// the caller tells apart), whose value is empty or maxValue
// bytes or longer, whose key or value of up to 16 bytes lies within 16
// bytes of the end of a memory page, or that does not fit in the room
// bytes at d. One SSE2 load, test and store per string of up to 16
// bytes, a longer value tested as it is copied (jsonCopyPlain), without
// the calls, spills and switch on the length of jsonAppendShortPlain's two
// calls per member or appendMember's three. d has room for
// runlogMemberRoom bytes per member of attrs[:n] at least.
//
//go:noescape
func jsonAppendShortMembers(d *byte, room int, attrs *Attr, n, maxValue int, seen uint64) (members, written int, bits uint64)

// runlogAppendNodeNames writes the text of a node record from its
// node_id value to next_log_ids' "[" (appendNodeIDs) and returns its
// length, or -1 when one of node_id, node_type and node_name is not empty
// or 1 to 16 plain bytes it can read whole in their memory page: each
// string loaded and tested once with SSE2 and stored twice (its func_*
// copy), the keys between them stored from one table, where
// appendNodeIDs makes three calls, copies the text and renames the keys.
// d has room for runlogNodeNamesRoom bytes.
//
//go:noescape
func runlogAppendNodeNames(d *byte, n *Node) (written int)
