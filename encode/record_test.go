package encode

import (
	"strings"
	"testing"
)

// TestIsStreamNode checks IsStreamNode against its rule: the node id's
// prefix before the first ':' (the whole id without one) is "message" or
// "node-end".
func TestIsStreamNode(t *testing.T) {
	for _, id := range []string{"", "message", "message:1", "message:", "messages:1", "messag", "message-x:1",
		"node-end", "node-end:9", "node-endx", "node", ":message", "mess:age", "llm:message", "node-end:a:b"} {
		typ, _, _ := strings.Cut(id, ":")
		if want := typ == "message" || typ == "node-end"; IsStreamNode(id) != want {
			t.Errorf("IsStreamNode(%q) = %v, want %v", id, !want, want)
		}
	}
}
