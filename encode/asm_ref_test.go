package encode

import (
	"strings"
	"unicode/utf8"
)

// refEscape is the body of the JSON string the run log writes for s,
// written byte by byte from the rule alone (jsonAppendEscaped's doc), with
// none of its fast paths: printable ASCII other than '"' and '\\' (DEL
// included) as it is, the usual short escapes, other control bytes as
// \u00xx, valid UTF-8 as it is but U+2028 and U+2029 escaped, and each
// maximal run of bytes that are not valid UTF-8 as one U+FFFD. The
// assembly writers (runlog_amd64.s) and their portable twins are compared
// with it.
func refEscape(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	bad := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			bad = false
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, `\n`...)
			case c == '\r':
				dst = append(dst, `\r`...)
			case c == '\t':
				dst = append(dst, `\t`...)
			case c == '\b':
				dst = append(dst, `\b`...)
			case c == '\f':
				dst = append(dst, `\f`...)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			if !bad {
				dst = append(dst, "\uFFFD"...)
				bad = true
			}
			i++
			continue
		}
		bad = false
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// refPlain reports whether every byte of s is plain (jsonPlain), byte by
// byte.
func refPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// refObject is what appendObject writes for attrs of string values,
// member by member from refEscape, with no Offloader.
func refObject(dst []byte, attrs []Attr) []byte {
	// A repeated key is written once, where it came first, with its last
	// value, as the original's Python dict holds it.
	// Keys are compared as written, invalid UTF-8 repaired.
	var keys []string
	last := make(map[string]string, len(attrs))
	for _, a := range attrs {
		k := strings.ToValidUTF8(a.Key, "\uFFFD")
		if _, ok := last[k]; !ok {
			keys = append(keys, k)
		}
		last[k] = a.Value.str()
	}
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = refEscape(dst, k)
		dst = append(dst, '"', ':', '"')
		dst = refEscape(dst, last[k])
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// refNodeNames is what runlogAppendNodeNames and
// runlogAppendNodeNamesEscaped write for n: its three names escaped and
// their func_* copies, from node_id's value to next_log_ids' "[".
func refNodeNames(dst []byte, n *Node) []byte {
	dst = refEscape(dst, n.NodeID)
	dst = append(dst, `","node_type":"`...)
	dst = refEscape(dst, n.NodeType)
	dst = append(dst, `","node_name":"`...)
	dst = refEscape(dst, n.NodeName)
	dst = append(dst, `","func_id":"`...)
	dst = refEscape(dst, n.NodeID)
	dst = append(dst, `","func_type":"`...)
	dst = refEscape(dst, n.NodeType)
	dst = append(dst, `","func_name":"`...)
	dst = refEscape(dst, n.NodeName)
	return append(dst, `","next_log_ids":[`...)
}
