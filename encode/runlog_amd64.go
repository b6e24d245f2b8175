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
// returns how many it wrote and their bytes: it stops at the first member
// whose value is not a string or whose key or value is empty, longer than
// 16 bytes, not plain, or within 16 bytes of the end of a memory page. d
// has room for runlogMemberRoom bytes per member of attrs[:n]. One SSE2
// load, test and store per string, without the calls, spills and switch
// on the length of jsonAppendShortPlain's two calls per member.
//
//go:noescape
func jsonAppendShortMembers(d *byte, attrs *Attr, n int) (members, written int)

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
