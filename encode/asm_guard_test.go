//go:build linux && amd64

package encode

import (
	"bytes"
	"encoding/json"
	"math"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/flowtel/flowtel/internal/race"
)

// guardPage is the page size the guard tests assume (the assembly's page
// test is for 4 KiB pages, which every larger page size is a multiple of).
const guardPage = 4096

// guarded returns k pages, each followed by a PROT_NONE page: a load or
// store one byte past the end of any of them faults. Strings and buffers
// placed at the end of one show that the assembly (runlog_amd64.s) reads
// and writes nothing past them, where a test on the heap would read the
// next object silently.
func guarded(t testing.TB, k int) [][]byte {
	t.Helper()
	mem, err := syscall.Mmap(-1, 0, 2*k*guardPage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	pages := make([][]byte, k)
	for i := range pages {
		at := 2 * i * guardPage
		if err := syscall.Mprotect(mem[at+guardPage:at+2*guardPage], syscall.PROT_NONE); err != nil {
			t.Fatal(err)
		}
		pages[i] = mem[at : at+guardPage : at+guardPage]
	}
	return pages
}

// TestGuardFaults checks the guard itself: a load one byte past a page
// guarded returns faults (recovered with debug.SetPanicOnFault).
func TestGuardFaults(t *testing.T) {
	page := guarded(t, 1)[0]
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	faulted := func() (f bool) {
		defer func() { f = recover() != nil }()
		guardSink = *(*byte)(unsafe.Add(unsafe.Pointer(&page[len(page)-1]), 1))
		return false
	}()
	if !faulted {
		t.Fatal("a load past the guarded page did not fault")
	}
}

// guardSink keeps TestGuardFaults's load.
var guardSink byte

// atEnd copies s to page so that it ends gap bytes before the guard page
// and returns the copy ("" for an empty s).
func atEnd(page []byte, s string, gap int) string {
	if len(s) == 0 {
		return ""
	}
	at := len(page) - gap - len(s)
	copy(page[at:], s)
	return unsafe.String(&page[at], len(s))
}

// guardContents are strings of length n with each kind of byte the
// writers test for at the first, a middle and the last position: plain,
// quote, backslash, control bytes and NUL, DEL, bytes from 0x80, the
// first byte of U+2028.
func guardContents(n int) []string {
	if n == 0 {
		return []string{""}
	}
	out := []string{string(bytes.Repeat([]byte{'a'}, n))}
	for _, c := range []byte{0, 0x1f, ' ', '"', '\\', 0x7e, 0x7f, 0x80, 0xe2, 0xff} {
		for _, pos := range []int{0, n / 2, n - 1} {
			b := bytes.Repeat([]byte{'a'}, n)
			b[pos] = c
			out = append(out, string(b))
		}
	}
	if n >= 3 {
		b := bytes.Repeat([]byte{'a'}, n)
		copy(b[n-3:], "\u2028")
		out = append(out, string(b))
	}
	return out
}

// TestGuardJSONCopyPlain places the source of jsonCopyPlain at the end of
// a page followed by a guard page, for every length from 16 (its least)
// to 64 and 16 to 100 ending 0 to 15 bytes before the guard (every
// alignment), and its destination of exactly n bytes likewise: it reads
// and writes nothing past them, and answers as the byte rule does.
func TestGuardJSONCopyPlain(t *testing.T) {
	pages := guarded(t, 2)
	src, dst := pages[0], pages[1]
	for n := 16; n <= 100; n++ {
		for gap := range 16 {
			for _, c := range guardContents(n) {
				s := atEnd(src, c, gap)
				d := dst[len(dst)-gap-n : len(dst)-gap]
				clear(d)
				got := jsonCopyPlain(&d[0], unsafe.StringData(s), n)
				if want := refPlain(s); got != want {
					t.Fatalf("jsonCopyPlain(%q) = %v, want %v", s, got, want)
				}
				if got && string(d) != s {
					t.Fatalf("jsonCopyPlain(%q) copied %q", s, d)
				}
			}
		}
	}
}

// TestGuardJSONAppendEscaped writes strings of 0 to 64 bytes ending 0 to
// 15 bytes before a guard page into a buffer whose capacity ends at a
// guard page, with room for the string and 16 bytes (the short writers'
// stores) or for exactly the output: the output is refEscape's.
func TestGuardJSONAppendEscaped(t *testing.T) {
	pages := guarded(t, 2)
	src, out := pages[0], pages[1]
	for n := 0; n <= 64; n++ {
		for gap := range 16 {
			for _, c := range guardContents(n) {
				s := atEnd(src, c, gap)
				want := string(refEscape(nil, s))
				for _, room := range []int{n + 16, len(want)} {
					dst := out[len(out)-room : len(out)-room : len(out)]
					if got := jsonAppendEscaped(dst, s); string(got) != want {
						t.Fatalf("jsonAppendEscaped(%q), room %d = %q, want %q", s, room, got, want)
					}
				}
			}
		}
	}
}

// TestGuardShortMembers places the keys and values of
// jsonAppendShortMembers (0 to 64 bytes, 0 to 15 bytes before a guard
// page), its attributes array and its buffer (the room it is told, no
// byte more) each at the end of a page followed by a guard page: it
// writes exactly the members its rule accepts, as refEscape writes them,
// and appendObject writes the whole object as refObject does.
func TestGuardShortMembers(t *testing.T) {
	if race.Enabled {
		t.Skip("the detector sees nothing of the assembly and slows this test tenfold; it runs without -race")
	}
	pages := guarded(t, 4)
	keys, vals, arr, out := pages[0], pages[1], pages[2], pages[3]
	attrSize := int(unsafe.Sizeof(Attr{}))
	inPage := func(s string) bool { return uintptr(unsafe.Pointer(unsafe.StringData(s)))%guardPage <= guardPage-16 }
	var f runlogField
	check := func(list []Attr, room, maxValue int) {
		t.Helper()
		// The attributes at the end of their page: the array is read no
		// further than its n elements.
		at := len(arr) - len(list)*attrSize
		attrs := unsafe.Slice((*Attr)(unsafe.Pointer(&arr[at])), len(list))
		copy(attrs, list)
		wantK, pos := 0, 0
		var ref []byte
		var seen uint64
		for _, a := range attrs {
			k, v := a.Key, a.Value.str()
			if a.Value.kind() != KindString || len(k) < 1 || len(k) > 16 || len(v) < 1 || len(v) >= maxValue ||
				!refPlain(k) || !refPlain(v) || !inPage(k) || len(v) <= 16 && !inPage(v) ||
				pos+6+len(k)+max(len(v), 16) > room || seen&keyBit(k) != 0 {
				break
			}
			wantK++
			seen |= keyBit(k)
			pos += 6 + len(k) + len(v)
			ref = append(ref, `,"`+k+`":"`+v+`"`...)
		}
		d := out[len(out)-room:]
		k, w, bits := jsonAppendShortMembers(&d[0], room, &attrs[0], len(attrs), maxValue, 0)
		if k != wantK || string(d[:w]) != string(ref) || bits != seen {
			t.Fatalf("jsonAppendShortMembers(%q, room %d, maxValue %d) = %d members %q, bits %#x, want %d %q, %#x", attrs, room, maxValue, k, d[:w], bits, wantK, ref, seen)
		}
		// appendObject in a buffer that ends at the guard page, with the
		// room it makes for the members and no more.
		if room >= len(attrs)*runlogMemberRoom+runlogLongRoom {
			dst := out[len(out)-room : len(out)-room : len(out)]
			want := refObject(nil, attrs)
			if got := f.appendObject(dst, attrs); string(got) != string(want) {
				t.Fatalf("appendObject(%q) = %s, want %s", attrs, got, want)
			}
		}
		clear(attrs) // no string of a page left in the array
	}
	for n := 0; n <= 64; n++ {
		for gap := range 16 {
			for _, c := range guardContents(n) {
				s := atEnd(keys, c, gap)
				v := atEnd(vals, c, gap)
				for _, list := range [][]Attr{
					{{s, StringValue("v")}, {"k2", StringValue(v)}},
					{{"k1", StringValue(v)}},
					{{s, StringValue(v)}},
				} {
					full := len(list)*runlogMemberRoom + runlogLongRoom
					check(list, full, math.MaxInt)
					check(list, full, n)
					check(list, full, n+1)
					// The room at and around what the last member needs.
					need := 0
					for _, a := range list {
						need += 6 + len(a.Key) + max(len(a.Value.str()), 16)
					}
					for _, room := range []int{need - 1, need, need + 1} {
						if room > 0 {
							check(list, room, math.MaxInt)
						}
					}
				}
			}
		}
	}
}

// TestGuardNodeNames places a node's id, type and name (0 to 64 bytes,
// 0 to 15 bytes before a guard page) and the buffer of
// runlogAppendNodeNames (runlogNodeNamesRoom bytes, no more) at the end of
// pages followed by guard pages: it writes refNodeNames's text or, for a
// string it may not read whole or that is not plain, nothing.
func TestGuardNodeNames(t *testing.T) {
	if race.Enabled {
		t.Skip("the detector sees nothing of the assembly and slows this test tenfold; it runs without -race")
	}
	pages := guarded(t, 4)
	ids, types, names, out := pages[0], pages[1], pages[2], pages[3]
	inPage := func(s string) bool { return uintptr(unsafe.Pointer(unsafe.StringData(s)))%guardPage <= guardPage-16 }
	short := func(s string) bool { return len(s) == 0 || len(s) <= 16 && refPlain(s) && inPage(s) }
	d := out[len(out)-runlogNodeNamesRoom:]
	for n := 0; n <= 64; n++ {
		for gap := range 16 {
			for _, c := range guardContents(n) {
				s := atEnd(ids, c, gap)
				for _, node := range []*Node{
					{NodeID: s, NodeType: atEnd(types, "llm", gap), NodeName: atEnd(names, "Answer", 0)},
					{NodeID: "start:1", NodeType: atEnd(types, c, gap), NodeName: ""},
					{NodeID: "", NodeType: "", NodeName: atEnd(names, c, gap)},
					{NodeID: s, NodeType: atEnd(types, c, gap), NodeName: atEnd(names, c, gap)},
				} {
					want := string(refNodeNames(nil, node))
					w := runlogAppendNodeNames(&d[0], node)
					if short(node.NodeID) && short(node.NodeType) && short(node.NodeName) {
						if w < 0 || string(d[:w]) != want {
							t.Fatalf("runlogAppendNodeNames(%q, %q, %q) = %d, want %q", node.NodeID, node.NodeType, node.NodeName, w, want)
						}
					} else if w != -1 {
						t.Fatalf("runlogAppendNodeNames(%q, %q, %q) = %d, want -1", node.NodeID, node.NodeType, node.NodeName, w)
					}
					if got := string(nodeNamesEscaped(node)); got != want {
						t.Fatalf("runlogAppendNodeNamesEscaped(%q, %q, %q) = %q, want %q", node.NodeID, node.NodeType, node.NodeName, got, want)
					}
				}
			}
		}
	}
}

// TestGuardRunLog encodes whole run logs whose every string ends at a
// guard page (0 to 64 bytes): the encoder's fast paths read nothing past
// them, and the output is valid JSON.
func TestGuardRunLog(t *testing.T) {
	pages := guarded(t, 8)
	enc := NewEncoder(Resource{ServiceName: "svc"})
	for n := 0; n <= 64; n++ {
		for _, c := range guardContents(n) {
			s := func(i int) string { return atEnd(pages[i], c, 0) }
			node := &Node{SpanID: SpanID{1}, NodeID: s(0), NodeType: s(1), NodeName: s(2), Next: []string{s(3)},
				Input:  []Attr{{s(4), StringValue(s(5))}, {"k", StringValue(s(6))}},
				Output: []Attr{{"o", StringValue(s(7))}}, LLMOutput: s(5),
				Events: []Event{{Kind: EventInfo, Message: s(6)}}, StartUnixNano: 1, EndUnixNano: 2}
			r := &Run{FlowID: s(0), SID: s(1), AppID: s(2), Question: s(3), Answer: s(4),
				Srv: []Attr{{s(6), StringValue(s(7))}}, Nodes: []*Node{node}, StartUnixNano: 1, EndUnixNano: 3}
			if out := AppendRunLog(nil, r); !json.Valid(out) {
				t.Fatalf("AppendRunLog of strings %q: invalid JSON %s", c, out)
			}
			enc.AppendTraces(nil, []*Run{r})
			enc.AppendLogs(nil, []*Run{r})
		}
	}
}

// TestGuardPrefetch runs prefetch_amd64.s on ranges that run into a guard
// page, from every offset of a page's last two lines, and on a Node laid
// out at a page's end whose lists end there: prefetches are hints, and
// fault on nothing; the Node's fields are read, nothing past them.
func TestGuardPrefetch(t *testing.T) {
	pages := guarded(t, 2)
	p := pages[0]
	var rs [prefetchMax]prefetchRange
	for off := 1; off <= 128; off++ {
		for i := range rs {
			rs[i] = prefetchRange{unsafe.Pointer(&p[len(p)-off]), uintptr(off + i*64)}
		}
		prefetchRanges(&rs)
	}
	rs = [prefetchMax]prefetchRange{}
	prefetchRanges(&rs)
	// A Node at the end of the second page, its lists at the end of the
	// first (pointers to memory the collector does not manage).
	q := pages[1]
	n := (*Node)(unsafe.Pointer(&q[len(q)-int(unsafe.Sizeof(Node{}))]))
	*n = Node{}
	attrs := unsafe.Slice((*Attr)(unsafe.Pointer(&p[len(p)-3*int(unsafe.Sizeof(Attr{}))])), 3)
	n.Input, n.Output, n.Config = attrs, attrs[1:], attrs[2:]
	n.Next = unsafe.Slice((*string)(unsafe.Pointer(&p[len(p)-32])), 2)
	n.Events = unsafe.Slice((*Event)(unsafe.Pointer(&p[len(p)-int(unsafe.Sizeof(Event{}))])), 1)
	prefetchNodes(n, n)
	prefetchNodes(nil, n)
	prefetchNodes(n, nil)
	prefetchNodes(nil, nil)
	*n = Node{} // no pointer left in the mapping
}

// fuzzPages are the guarded pages FuzzGuardRunLog places its strings in,
// mapped once for the process.
var fuzzPages struct {
	sync.Once
	p [][]byte
}

// FuzzGuardRunLog places the fuzzer's strings (up to a page) at the end
// of pages followed by guard pages, 0 to 15 bytes before them, and runs
// checkFastPaths on them, and the run log, traces and logs encoders on a
// run made of them: nothing is read past a string, and the fast writers
// write what the reference writes.
func FuzzGuardRunLog(f *testing.F) {
	f.Add("node:1", "sixteen bytes...", "a value longer than sixteen bytes", uint8(0))
	f.Add("", "\x00\"\\", "\xe2\x80\xa8\xff", uint8(15))
	f.Add("世界", "a\x7f", "0123456789abcdef0", uint8(3))
	f.Fuzz(func(t *testing.T, a, b, c string, gap uint8) {
		fuzzPages.Do(func() {
			mem, err := syscall.Mmap(-1, 0, 6*guardPage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
			if err != nil {
				panic(err)
			}
			for i := range 3 {
				if err := syscall.Mprotect(mem[(2*i+1)*guardPage:(2*i+2)*guardPage], syscall.PROT_NONE); err != nil {
					panic(err)
				}
				fuzzPages.p = append(fuzzPages.p, mem[2*i*guardPage:(2*i+1)*guardPage:(2*i+1)*guardPage])
			}
		})
		g := int(gap % 16)
		var s [3]string
		for i, v := range []string{a, b, c} {
			if len(v) > guardPage-g {
				v = v[:guardPage-g]
			}
			s[i] = atEnd(fuzzPages.p[i], v, g)
		}
		checkFastPaths(t, s[0], s[1], s[2])
		n := &Node{SpanID: SpanID{1}, NodeID: s[0], NodeType: s[1], NodeName: s[2], Next: []string{s[1], s[2]},
			Input: []Attr{{s[0], StringValue(s[1])}, {s[2], StringValue(s[0])}}, Config: []Attr{{"k", StringValue(s[2])}},
			LLMOutput: s[1], Events: []Event{{Kind: EventInfo, Message: s[2]}}, StartUnixNano: 1, EndUnixNano: 2}
		r := &Run{FlowID: s[0], SID: s[1], AppID: s[2], Question: s[0], Answer: s[1], Nodes: []*Node{n}, StartUnixNano: 1, EndUnixNano: 3}
		if out := AppendRunLog(nil, r); !json.Valid(out) {
			t.Fatalf("AppendRunLog: invalid JSON %s", out)
		}
		enc := NewEncoder(Resource{ServiceName: "svc"})
		enc.AppendTraces(nil, []*Run{r})
		enc.AppendLogs(nil, []*Run{r})
	})
}
