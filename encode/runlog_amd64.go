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
