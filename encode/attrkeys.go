package encode

import "unicode/utf8"

// This file keeps each attribute key once per span, as OTLP requires and
// OpenTelemetry's SetAttributes does (the last value set wins).
//
// A span's attributes are the ones its conventions write (sid, app_id,
// node_id, code, usage.*, ...) and the caller's: a node's Input, Output and
// Config under their prefixes and its Attrs (Node.SetAttributes) as they
// are, a run's Attrs (Run.SetAttributes). The engine appends what it is
// given, so the caller's lists may repeat a key, or take one of the
// conventions'. The encoder keeps one:
//   - among the caller's, the last: in its list the later, across lists
//     Attrs over Config over Output over Input (SetAttributes("input.x")
//     over Input("x"));
//   - against a key the span's conventions write on this span, the
//     conventions' (the value the run started with, as the OpenTelemetry
//     bridge keeps, counting the caller's in its Stats.RunAttrsDropped),
//     except gen_ai.usage.input_tokens and output_tokens, where the
//     caller's wins (appendUsageAttrs).
//
// Every attribute left out counts in EncoderStats.AttrsReplaced; one left
// out for the conventions' also counts in the span's
// dropped_attributes_count, since its value is nowhere.
//
// Keys are compared as written: a key of invalid UTF-8 is written
// repaired (one U+FFFD per run of invalid bytes), so "k\xff", "k\xfe" and
// "k\uFFFD" are one key. Only a key appendKVFast refuses (not ASCII) can
// be repaired: writeAttrsPre (or writeAttrsSeen) then sets keyRepaired,
// and once the span's attributes are written, before its events (which
// may queue values to the Offloader), the span is checked again with its
// keys compared repaired (sameKeyRepaired) and, when a key did meet
// another, written again whole from a copy with each key once
// (nodeRepaired, runRepaired): a rare path that adds two tests of a flag
// to the common one. An event given as data writes its attributes
// the same way, each key once, the last (writeEventAttrs).
//
// The common case repeats nothing. A node's Input, Output and Config are
// written as they are, each key's bit (keyBit: its length and first and
// last bytes) set in a register beside the writing loop
// (writeNodeLists); only a bit that comes twice in one list takes the
// exact check (nodeOnce), and only a real repeat writes the lists again
// from filtered copies (Encoder.keep, Encoder.copies), the first writing's
// bytes and repair counts undone. A node's Attrs, which may meet any list
// and the conventions, tell as they are written (writeAttrsMeet: the same
// bits and a table of the conventions'), and the span is written again
// from a copy when a key did meet another (nodeMeets); a run's are
// checked before they are written (attrsMayRepeat). Only a bit already
// seen compares keys. Thread CPU (TestCPUTime -cputime,
// medians of 6 alternating runs, AMD EPYC): the check before the writing
// (a set of key lengths, then of bits for the lists with a length twice)
// took EncodeTraces from 199.3 to 205.9 ns/span, EncodeTracesLoadgen
// (keys in0 to in3: one length) from 210.9 to 235.9; the bits beside the
// writing took EncodeTracesLoadgen from 238.1 to 220.3 (without any check:
// 214.8). Tried and not kept: the lengths set inside the writing loop
// (+14.6 ns in EncodeTraces), a 256-bit set of hashes on the stack (+10 %),
// and lengths alone with exact compares (+22 % in EncodeTracesLoadgen);
// each key's bit computed by appendKVFast from the bytes it loads and
// returned (+2.4 % in EncodeTraces: every caller pays for it); the
// repaired-key check in the span writers' main flow (a function for the
// attributes from Input on, or a goto back to them: +2 to +7 %), where
// the rewrite of the whole span (nodeRepaired), asked for by a test of the
// flag, measured no difference. That test was at the writers' tail, after
// the events, whose offloaded values the rewrite then queued again (each
// stored twice, once under a link no span held); it follows the
// attributes now, and measured no difference either (TestCPUTime, 6
// alternating runs, AMD EPYC: EncodeTraces 192.0 -> 192.2 ns per span,
// p=0.73; EncodeTracesGenAI hot 195.2 -> 196.2, p=0.23).

// conventionKeys are the keys a run or node span may write itself, where
// the conventions win over the caller's (gen_ai.usage.* are not: the
// caller's wins).
var conventionKeys = [...]string{
	keySID, keyAppID, keyUID, keyChatID, keySpanVersion, keyCode, keyFlowID,
	keyServiceID, keyBotID, keySub, keyCaller, keyNodeID, keyNodeType,
	keyNodeName, keyRunningStatus, keyLLMOutput, keyFirstFrame,
	keyNextNodeIDs, keyError, keyIncomplete, keyErrorType, keyDroppedNodes,
	keyQuestionTokens, keyPromptTokens, keyCompletionTokens, keyTotalTokens,
}

// conventionMask holds, per key length below 32, the conventionBit of
// each of the conventionKeys of that length: a caller key whose bit is
// clear is none of them, told with one table load. The bit is of the
// key's first letter and its last byte's low bit, where it was keyBit's
// (length, first and last bytes), on which gen_ai.request.model and
// first_frame_duration, both 20 bytes, fell together and sent every LLM
// node's span to the key compares of isConventionKey: no convention key
// starts with a g. With isConventionKey a switch and listPrefixed's
// first-byte test, TestCPUTimeGenAI hot went from 196.4 to 192.8 ns per
// span (-1.9 %, p=0.000, 10 alternating runs, AMD EPYC); attrsMayRepeat
// left out altogether (not correct: a bound) gave 184.2 against 196.1.
var conventionMask = func() (t [32]uint64) {
	for _, k := range conventionKeys {
		t[len(k)] |= conventionBit(k)
	}
	return t
}()

// conventionBit returns the bit of k, not empty, in conventionMask.
func conventionBit(k string) uint64 {
	return 1 << ((uint(k[0])&31)<<1 | uint(k[len(k)-1])&1)
}

// keyBit returns the bit of k in a 64-bit set of keys, of its length and
// first and last bytes ("in0" to "in7", or "entry" and "error", fall on
// different bits).
func keyBit(k string) uint64 {
	if k == "" {
		return 1
	}
	return 1 << ((uint(len(k))<<3 + uint(k[0])<<1 + uint(k[len(k)-1])) & 63)
}

// repeats reports whether as repeats a key. Two or three keys compare
// their lengths; more set each key's length in a register, a shift and
// two logic operations a key. Only keys of a length seen before take the
// second pass (repeatsHashed).
func repeats(as []Attr) bool {
	switch len(as) {
	case 0, 1:
		return false
	case 2:
		return len(as[0].Key) == len(as[1].Key) && repeatsHashed(as)
	case 3:
		l0, l1, l2 := len(as[0].Key), len(as[1].Key), len(as[2].Key)
		return (l0 == l1 || l0 == l2 || l1 == l2) && repeatsHashed(as)
	}
	var lens, again uint64
	for i := range as {
		b := uint64(1) << (len(as[i].Key) & 63)
		again |= lens & b
		lens |= b
	}
	return again != 0 && repeatsHashed(as)
}

// repeatsHashed reports whether as repeats a key: its keys' keyBits are
// set in a register, and a key whose bit was set already is compared with
// the keys before it.
func repeatsHashed(as []Attr) bool {
	if len(as) > maxScanAttrs {
		return repeatsMapped(as)
	}
	var seen uint64
	for i := range as {
		b := keyBit(as[i].Key)
		if seen&b != 0 && repeatsBefore(as, i) {
			return true
		}
		seen |= b
	}
	return false
}

// maxScanAttrs is the longest list whose repeated keys are found by
// comparing keys: past it the 64 bits are all set and each key would be
// compared with every other (a node of 40,000 attributes took 16 s to
// encode), so a map finds them.
const maxScanAttrs = 64

// repeatsMapped is repeatsHashed for a long list.
func repeatsMapped(as []Attr) bool {
	seen := make(map[string]struct{}, len(as))
	for i := range as {
		if _, ok := seen[as[i].Key]; ok {
			return true
		}
		seen[as[i].Key] = struct{}{}
	}
	return false
}

// repeatsBefore reports whether a key of as before i is as[i]'s.
func repeatsBefore(as []Attr, i int) bool {
	for j := range as[:i] {
		if as[j].Key == as[i].Key {
			return true
		}
	}
	return false
}

// attrsMayRepeat reports whether as, a span's unprefixed caller
// attributes, may repeat a key among themselves, take a key of
// conventionKeys or one of a prefixed list (input., output., config.):
// false is certain.
func attrsMayRepeat(as []Attr) bool {
	if len(as) > maxScanAttrs {
		return true // the exact check (keepOnce) tells
	}
	var seen uint64
	for i := range as {
		k := as[i].Key
		b := keyBit(k)
		if seen&b != 0 && repeatsBefore(as, i) {
			return true
		}
		seen |= b
		if n := uint(len(k)) - 1; n < uint(len(conventionMask))-1 && conventionMask[n+1]&conventionBit(k) != 0 && isConventionKey(k) {
			return true
		}
		if listPrefixed(k) {
			return true // perhaps input.x meets Input's x: the exact check tells
		}
	}
	return false
}

// listPrefixed reports whether k starts with a prefix of a node's lists
// (input., output., config.), where k may meet a key of that list. The
// test was a dot where a prefix's is ("gen_ai.operation.name" has one),
// which sent every span with the GenAI conventions' attributes to the
// exact check (keepOnce): in the loadgen's synthetic workload (LLM nodes
// with 7 gen_ai.* keys, tool calls with 4) keepOnce and sameKey were 11.5 %
// of the process's CPU. It also missed the prefix alone ("input.", which
// meets Input's empty key). Thread CPU, medians of 6 alternating runs, AMD
// EPYC (TestCPUTimeGenAI): hot 294.1 -> 198.6 ns per span, dram 345.0 ->
// 249.8; EncodeTraces and EncodeTracesLoadgen (no Attrs) unchanged.
func listPrefixed(k string) bool {
	if len(k) < len(prefixInput) {
		return false
	}
	switch k[0] {
	case 'i':
		return k[:len(prefixInput)] == prefixInput
	case 'o':
		return len(k) >= len(prefixOutput) && k[:len(prefixOutput)] == prefixOutput
	case 'c':
		return len(k) >= len(prefixConfig) && k[:len(prefixConfig)] == prefixConfig
	}
	return false
}

// isConventionKey reports whether k is one of conventionKeys: a switch,
// which the compiler makes a search by length and then by value, where
// a loop compared k with each of the 26.
func isConventionKey(k string) bool {
	switch k {
	case keySID, keyAppID, keyUID, keyChatID, keySpanVersion, keyCode, keyFlowID,
		keyServiceID, keyBotID, keySub, keyCaller, keyNodeID, keyNodeType,
		keyNodeName, keyRunningStatus, keyLLMOutput, keyFirstFrame,
		keyNextNodeIDs, keyError, keyIncomplete, keyErrorType, keyDroppedNodes,
		keyQuestionTokens, keyPromptTokens, keyCompletionTokens, keyTotalTokens:
		return true
	}
	return false
}

// conventionWrites reports whether key is one the span writes itself:
// the run's span when nd is nil, else nd's.
func conventionWrites(r *Run, nd *Node, key string) bool {
	switch key {
	case keySID, keyAppID, keyUID, keyChatID, keySpanVersion:
		return true
	case keyError:
		if nd == nil {
			return hasErrorEvent(r.Events)
		}
		return hasErrorEvent(nd.Events)
	case keyIncomplete:
		if nd == nil {
			return r.Incomplete
		}
		return nd.Incomplete
	case keyFirstFrame:
		if nd == nil {
			_, ok := r.FirstFrameMillis()
			return ok
		}
		return nd.FirstFrameUnixNano != 0
	case keyQuestionTokens, keyPromptTokens, keyCompletionTokens, keyTotalTokens:
		return nd == nil || nd.HasUsage
	case keyCode:
		return nd == nil || nd.HasCode
	}
	if nd == nil {
		switch key {
		case keyFlowID:
			return r.FlowID != ""
		case keyServiceID:
			return serviceID(r) != ""
		case keyBotID:
			return r.BotID != ""
		case keySub:
			return r.Sub != ""
		case keyCaller:
			return r.Caller != ""
		case keyDroppedNodes:
			return r.DroppedNodes != 0
		}
		return false
	}
	switch key {
	case keyNodeID, keyNodeType, keyNodeName, keyRunningStatus:
		return true
	case keyLLMOutput:
		return nd.LLMOutput != ""
	case keyNextNodeIDs:
		return len(nd.Next) != 0
	case keyErrorType:
		return nd.Cancelled
	}
	return false
}

// sameKeyRepaired reports whether pa+a and pb+b are the same key once
// written, invalid UTF-8 repaired: "a\xff" and "a\xfe" both become
// "a\uFFFD". keepOnce asks it when a key of the span was repaired.
func (e *Encoder) sameKeyRepaired(pa, a, pb, b string) bool {
	if utf8.ValidString(a) && utf8.ValidString(b) {
		return false // the prefixes are ASCII: sameKey told
	}
	x := appendUTF8Repaired(append(e.keyBuf[:0], pa...), a)
	n := len(x)
	x = appendUTF8Repaired(append(x, pb...), b)
	e.keyBuf = x
	return string(x[:n]) == string(x[n:])
}

// writeEventAttrs appends as, the attributes of an event given as data,
// each key once: of a key repeated, or of keys that become one once
// repaired, the last (eventOnce). Those left out count in
// EncoderStats.AttrsReplaced.
func (e *Encoder) writeEventAttrs(dst []byte, as []Attr) []byte {
	const f = fieldEventAttrs
	orig := as
	if repeats(as) {
		as = e.eventOnce(as, false)
	}
	// The span's flag is kept: its check follows the events.
	spanRepaired := e.keyRepaired
	e.keyRepaired = false
	mark, invalid := len(dst), e.invalid
	dst = e.writeAttrs(dst, f, "", as)
	if e.keyRepaired {
		if c := e.eventOnce(orig, true); len(c) != len(as) {
			as = c
			dst, e.invalid = dst[:mark], invalid
			dst = e.writeAttrs(dst, f, "", as)
		}
	}
	e.keyRepaired = spanRepaired
	if n := len(orig) - len(as); n != 0 {
		// A span written again (nodeRepaired) writes its events only then.
		e.stats.attrsReplaced.Add(uint64(n))
	}
	return dst
}

// eventOnce returns as, or when a key repeats (or, with repaired, becomes
// another once repaired) a copy in e.eventKeep with each key's last.
//
//go:noinline
func (e *Encoder) eventOnce(as []Attr, repaired bool) []Attr {
	keep := e.eventKeep[:0]
	var last map[string]int // long lists: each key's last place, as keepOnce
	if len(as) > maxScanAttrs {
		last = make(map[string]int, len(as))
		for i, a := range as {
			last[e.mapKey("", a.Key, repaired)] = i
		}
	}
next:
	for i, a := range as {
		if last != nil {
			if last[e.mapKey("", a.Key, repaired)] == i {
				keep = append(keep, a)
			}
			continue
		}
		for _, b := range as[i+1:] {
			if a.Key == b.Key || repaired && e.sameKeyRepaired("", a.Key, "", b.Key) {
				continue next
			}
		}
		keep = append(keep, a)
	}
	e.eventKeep = keep
	if len(keep) == len(as) {
		return as
	}
	e.copied = true
	return keep[:len(keep):len(keep)]
}

// listsOnce is called when a keyBit came twice in one of nd's Input,
// Output and Config, written from mark on (e.invalid was invalid), or a
// key of them was repaired (writeAttrsSeen): it checks nd's keys, and
// when a key did repeat it writes the lists again from a copy with each
// key once, which it returns in place of nd for the rest of the span.
//
//go:noinline
func (e *Encoder) listsOnce(dst []byte, mark int, invalid uint64, r *Run, nd *Node) ([]byte, *Node) {
	repaired := e.keyRepaired
	e.keyRepaired = false
	if e.rewriting {
		return dst, nd
	}
	orig := e.original(nd)
	c := e.nodeOnce(r, orig, repaired)
	e.replacedBase = 0
	if c == orig {
		return dst, nd
	}
	dst, e.invalid = dst[:mark], invalid
	dst, _ = e.writeNodeLists(dst, c)
	e.keyRepaired = false // the keys kept, repaired again
	return dst, c
}

// isCopy reports whether nd is e's copy of a node (nodeOnce), whose keys
// were checked, each once.
func (e *Encoder) isCopy(nd *Node) bool {
	return e.copies != nil && nd == &e.copies.node
}

// nodeMeets checks nd, whose span dst holds from start on, written up to
// its Attrs, which may meet a key (writeAttrsMeet, attrsMayRepeat), and
// when a key did meet another writes the span again from a copy with
// each key once. It reports false, dst unchanged, when none did.
//
//go:noinline
func (e *Encoder) nodeMeets(dst []byte, start int, r *Run, nd *Node) ([]byte, bool) {
	c := e.nodeOnce(r, nd, false)
	if c == nd {
		return dst, false
	}
	e.invalid, e.keyRepaired = e.spanInvalid, false
	return e.writeNodeSpan(dst[:start], r, c), true
}

// original returns the node nd copies, when nd is e's copy (nodeOnce),
// else nd, and sets e.replacedBase to what the copy left out: counted
// already, a second check of the same node does not count it again.
func (e *Encoder) original(nd *Node) *Node {
	if e.isCopy(nd) {
		e.replacedBase = e.replaced
		return e.copies.nodeOrig
	}
	return nd
}

// nodeRepaired checks again, with its keys compared repaired, the span
// of nd that dst holds from start on, written up to its attributes with a
// repaired key of nd.Attrs. When a key met another, it writes the whole
// span again in its place from a copy with each key once and reports
// true; otherwise the caller goes on writing the span. nd is the node
// written, or its copy (nodeOnce). It is called before the span's events
// are written: an event's large text or attributes are queued to the
// Offloader as they are written, and a first writing thrown away had
// queued them once more, stored under a link no span held.
//
//go:noinline
func (e *Encoder) nodeRepaired(dst []byte, start int, r *Run, nd *Node) ([]byte, bool) {
	e.keyRepaired = false
	if e.rewriting {
		return dst, false
	}
	orig := e.original(nd)
	c := e.nodeOnce(r, orig, true)
	e.replacedBase = 0
	if c == orig {
		return dst, false
	}
	e.invalid, e.rewriting = e.spanInvalid, true
	dst = e.writeNodeSpan(dst[:start], r, c)
	e.rewriting, e.keyRepaired = false, false
	return dst, true
}

// runRepaired is nodeRepaired for the span of run r.
//
//go:noinline
func (e *Encoder) runRepaired(dst []byte, start int, r *Run) ([]byte, bool) {
	e.keyRepaired = false
	if e.rewriting {
		return dst, false
	}
	orig := r
	if e.copies != nil && r == &e.copies.run {
		orig, e.replacedBase = e.copies.runOrig, e.replaced
	}
	c := e.runOnce(orig, true)
	e.replacedBase = 0
	if c == orig {
		return dst, false
	}
	e.invalid, e.rewriting = e.spanInvalid, true
	dst = e.writeRunSpan(dst[:start], c)
	e.rewriting, e.keyRepaired = false, false
	return dst, true
}

// sameKey reports whether pa+a and pb+b are the same key.
func sameKey(pa, a, pb, b string) bool {
	if len(pa)+len(a) != len(pb)+len(b) {
		return false
	}
	if len(pa) < len(pb) {
		pa, a, pb, b = pb, b, pa, a
	}
	// pa is the longer prefix: pb+b[:len(pa)-len(pb)] is pa.
	d := len(pa) - len(pb)
	return pa[:len(pb)] == pb && pa[len(pb):] == b[:d] && a == b[d:]
}

// keepOnce replaces the caller's lists of the span of r (nd nil) or nd
// by copies in e.keep without the attributes a later one or the span's
// conventions replace, when there are any. It returns how many the
// conventions replaced (for the span's dropped_attributes_count), and
// whether it replaced any. What it replaced counts in
// EncoderStats.AttrsReplaced but e.replacedBase, what a first check of
// the span without repair counted already (nodeRepaired), and stays in
// e.replaced.
func (e *Encoder) keepOnce(r *Run, nd *Node, pres *[4]string, lists *[4][]Attr, repaired bool) (dropped uint32, ok bool) {
	var replaced uint64
	keep := e.keep[:0]
	var bounds [4][2]int
	var last map[string][2]int // long lists: each key's last place
	if len(lists[0])+len(lists[1])+len(lists[2])+len(lists[3]) > maxScanAttrs {
		last = make(map[string][2]int)
		for l := range lists {
			for i, a := range lists[l] {
				last[e.mapKey(pres[l], a.Key, repaired)] = [2]int{l, i}
			}
		}
	}
	for l := range lists {
		bounds[l][0] = len(keep)
	next:
		for i, a := range lists[l] {
			if l == 3 && conventionWrites(r, nd, a.Key) {
				dropped++
				replaced++
				continue
			}
			if last != nil {
				if last[e.mapKey(pres[l], a.Key, repaired)] != [2]int{l, i} {
					replaced++
					continue
				}
				keep = append(keep, a)
				continue
			}
			for m := l; m < len(lists); m++ {
				from := 0
				if m == l {
					from = i + 1
				}
				for _, b := range lists[m][from:] {
					if sameKey(pres[l], a.Key, pres[m], b.Key) || repaired && e.sameKeyRepaired(pres[l], a.Key, pres[m], b.Key) {
						replaced++
						continue next
					}
				}
			}
			keep = append(keep, a)
		}
		bounds[l][1] = len(keep)
	}
	e.keep = keep
	if d := replaced - min(replaced, e.replacedBase); d != 0 {
		e.stats.attrsReplaced.Add(d)
	}
	e.replaced = replaced
	if replaced == 0 {
		return 0, false
	}
	for l := range lists {
		lists[l] = keep[bounds[l][0]:bounds[l][1]:bounds[l][1]]
	}
	return dropped, true
}

// mapKey returns pre+k as keepOnce's map of a long span's keys holds it:
// with repaired, as written (invalid UTF-8 repaired), so that "k\xff" and
// "k\uFFFD", one key on the wire, are one in the map too.
func (e *Encoder) mapKey(pre, k string, repaired bool) string {
	if !repaired || utf8.ValidString(k) {
		return pre + k
	}
	return string(appendUTF8Repaired(append(e.keyBuf[:0], pre...), k))
}

// nodePrefixes are the prefixes of a node's Input, Output, Config and
// Attrs; runPrefixes a run's, whose Attrs are its only list.
var nodePrefixes, runPrefixes = [4]string{prefixInput, prefixOutput, prefixConfig, ""}, [4]string{}

// writeNodeLists writes nd's Input, Output and Config, and returns the
// keyBits that came twice within one of them: zero when no key repeats.
func (e *Encoder) writeNodeLists(dst []byte, nd *Node) ([]byte, uint64) {
	const f = fieldSpanAttrs
	dst, a := e.writeAttrsSeen(dst, f, kvPrefixInput, nd.Input)
	dst, b := e.writeAttrsSeen(dst, f, kvPrefixOutput, nd.Output)
	dst, c := e.writeAttrsSeen(dst, f, kvPrefixConfig, nd.Config)
	return dst, a | b | c
}

// writeAttrsSeen is writeAttrsPre that also returns the keyBits of the
// keys of attrs that came twice: zero when no key repeats, and when not
// zero perhaps two keys of one bit (the exact check, nodeOnce, tells).
// The set lives in a register beside the writing loop, whose loads of each
// key's first and last bytes bring the lines appendKVFast reads next.
func (c *strChecker) writeAttrsSeen(dst []byte, field int, pre *kvPrefix, attrs []Attr) ([]byte, uint64) {
	var seen, again uint64
	for i := range attrs {
		a := &attrs[i]
		b := keyBit(a.Key)
		again |= seen & b
		seen |= b
		dst = kvRoom(dst)
		if d, ok := appendKVFast(dst, field, pre, a.Key, a.Value.kind(), &a.Value); ok {
			dst = d
			continue
		}
		if a.Value.kind() == KindString {
			// A long value (a tool's result) under a key of ASCII.
			if d, ok := appendKVLong(dst, field, pre.s, a.Key, a.Value.text()); ok {
				dst = d
				continue
			}
		}
		// appendKVFast and appendKVLong write keys of ASCII: only here
		// may a key be repaired, and then meet another key.
		if !utf8.ValidString(a.Key) {
			c.keyRepaired, again = true, again|1 // for listsOnce
		}
		dst = c.writeKV(dst, field, pre.s, a.Key, a.Value)
	}
	return dst, again
}

// writeAttrsMeet is writeAttrsPre for a node's Attrs, unprefixed, that
// also reports attrsMayRepeat of them, told beside the writing loop,
// whose loads of each key it shares, where attrsMayRepeat was a pass of
// its own before the writing: thread CPU (TestCPUTime* -cputime, 6
// alternating runs, AMD EPYC) EncodeTracesGenAI hot 195.8 -> 192.5 ns
// per span (p=0.009), EncodeTracesGenAICross one-buf 211.2 -> 204.9
// (p=0.015); cachegrind, BenchmarkEncodeTracesGenAI: about 26 fewer
// instructions per span. A looser test here (a bit seen twice, a first
// letter of a prefix) with attrsMayRepeat after it when it fired added
// instructions: the GenAI keys' bits meet often.
func (c *strChecker) writeAttrsMeet(dst []byte, attrs []Attr) ([]byte, bool) {
	var seen uint64
	meet := len(attrs) > maxScanAttrs // the exact check (keepOnce) tells
	for i := range attrs {
		a := &attrs[i]
		k := a.Key
		if !meet {
			b := keyBit(k)
			if seen&b != 0 && repeatsBefore(attrs, i) {
				meet = true
			}
			seen |= b
			if n := uint(len(k)) - 1; n < uint(len(conventionMask))-1 && conventionMask[n+1]&conventionBit(k) != 0 && isConventionKey(k) {
				meet = true
			}
			if listPrefixed(k) {
				meet = true
			}
		}
		dst = kvRoom(dst)
		if d, ok := appendKVFast(dst, fieldSpanAttrs, &kvNoPrefix, k, a.Value.kind(), &a.Value); ok {
			dst = d
			continue
		}
		if a.Value.kind() == KindString {
			if d, ok := appendKVLong(dst, fieldSpanAttrs, "", k, a.Value.text()); ok {
				dst = d
				continue
			}
		}
		if !utf8.ValidString(k) {
			c.keyRepaired = true
		}
		dst = c.writeKV(dst, fieldSpanAttrs, "", k, a.Value)
	}
	return dst, meet
}

// nodeMayRepeat reports whether nd's caller attributes may repeat a key.
// Lists under distinct prefixes meet only through Attrs, so a node
// without Attrs checks each list alone.
func nodeMayRepeat(nd *Node) bool {
	return repeats(nd.Input) || repeats(nd.Output) || repeats(nd.Config) || len(nd.Attrs) != 0 && attrsMayRepeat(nd.Attrs)
}

// nodeOnce returns nd, or when its caller attributes repeat a key a copy
// of it in e.copies with each key once (keepOnce) and the attributes
// the conventions replaced added to DroppedAttrs. writeNodeSpan calls it
// before writing the lists when the node's Attrs may meet a key
// (attrsMayRepeat), after when a keyBit came twice in a list
// (writeNodeLists): the copy keeps the common case's code free of it.
//
//go:noinline
func (e *Encoder) nodeOnce(r *Run, nd *Node, repaired bool) *Node {
	if !repaired && !nodeMayRepeat(nd) {
		return nd
	}
	lists := [4][]Attr{nd.Input, nd.Output, nd.Config, nd.Attrs}
	dropped, ok := e.keepOnce(r, nd, &nodePrefixes, &lists, repaired)
	if !ok {
		return nd
	}
	if e.copies == nil {
		e.copies = new(recordCopies)
	}
	c := &e.copies.node
	e.copies.nodeOrig = nd
	*c = *nd
	c.Input, c.Output, c.Config, c.Attrs = lists[0], lists[1], lists[2], lists[3]
	c.DroppedAttrs += dropped
	e.copied = true
	return c
}

// runOnce is nodeOnce for a run's span.
//
//go:noinline
func (e *Encoder) runOnce(r *Run, repaired bool) *Run {
	lists := [4][]Attr{3: r.Attrs}
	dropped, ok := e.keepOnce(r, nil, &runPrefixes, &lists, repaired)
	if !ok {
		return r
	}
	if e.copies == nil {
		e.copies = new(recordCopies)
	}
	c := &e.copies.run
	e.copies.runOrig = r
	*c = *r
	c.Attrs = lists[3]
	c.DroppedAttrs += dropped
	e.copied = true
	return c
}

// forgetCopies clears what nodeOnce and runOnce kept, so that the records
// and strings of a batch are not kept alive by the Encoder after it.
func (e *Encoder) forgetCopies() {
	if e.copies != nil {
		*e.copies = recordCopies{}
	}
	e.copied = false
	clear(e.keep)
	clear(e.eventKeep)
}

// recordCopies are the records runOnce and nodeOnce write in place of a
// run's or node's, allocated the first time: an Encoder that never meets
// a repeated key keeps its size.
type recordCopies struct {
	run  Run
	node Node
	// runOrig and nodeOrig are the records run and node copy.
	runOrig  *Run
	nodeOrig *Node
}
