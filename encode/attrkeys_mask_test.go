package encode

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestAttrsMayRepeatKeys: a span attribute with a key the conventions
// write, or under a list's prefix, takes the exact check; the GenAI
// conventions' keys, and keys that only look like those, do not.
func TestAttrsMayRepeatKeys(t *testing.T) {
	for _, k := range conventionKeys {
		if !attrsMayRepeat([]Attr{{Key: k}}) {
			t.Errorf("%q: not told a convention key", k)
		}
	}
	for _, k := range []string{"input.", "input.x", "output.", "output.x", "config.", "config.x"} {
		if !attrsMayRepeat([]Attr{{Key: k}}) {
			t.Errorf("%q: not told a list's prefix", k)
		}
	}
	for _, k := range []string{"", "x", "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
		"gen_ai.response.model", "gen_ai.response.finish_reasons", "gen_ai.usage.input_tokens",
		"gen_ai.usage.output_tokens", "gen_ai.tool.name", "gen_ai.tool.call.id", "gen_ai.tool.type",
		"inputs", "outputs.", "configs", "sid2", "node", "first_frame_duratioN"} {
		if attrsMayRepeat([]Attr{{Key: k}}) {
			t.Errorf("%q: told a convention key or a list's prefix", k)
		}
	}
	if !attrsMayRepeat([]Attr{{Key: "a"}, {Key: "b"}, {Key: "a"}}) {
		t.Error("a repeated key not told")
	}
}

// attrsRepeatExact is attrsMayRepeat's exact twin: as repeats a key, takes
// one of conventionKeys, or starts with a node list's prefix.
func attrsRepeatExact(as []Attr) bool {
	seen := make(map[string]bool, len(as))
	for _, a := range as {
		if seen[a.Key] || slices.Contains(conventionKeys[:], a.Key) ||
			strings.HasPrefix(a.Key, prefixInput) || strings.HasPrefix(a.Key, prefixOutput) || strings.HasPrefix(a.Key, prefixConfig) {
			return true
		}
		seen[a.Key] = true
	}
	return false
}

// nearMaskKeys are keys near the ones attrsMayRepeat must tell: each
// convention key, the same with its inner bytes changed (same length,
// first letter and last byte: conventionMask's bit), the prefixes and
// what nearly is one, the GenAI keys, and keys past conventionMask.
func nearMaskKeys() []string {
	ks := []string{"", "x", "input", "input.", "input.x", "output.", "outpu.", "output.x", "config.", "config", "config.x",
		"inputs.", "i", "o", "c", keyGenAIInput, keyGenAIOutput, "gen_ai.request.model", "gen_ai.operation.name",
		keyEventName, keyInfoLog, keyErrorLog, keyTraceLink, keyExceptionType, "k\xff", "k\xfe", "k\uFFFD",
		strings.Repeat("s", 31), strings.Repeat("s", 32), strings.Repeat("s", 70),
		// Every key the spans write, named apart from conventionKeys.
		keySID, keyAppID, keyUID, keyChatID, keySpanVersion, keyCode, keyFlowID, keyServiceID, keyBotID, keySub,
		keyCaller, keyNodeID, keyNodeType, keyNodeName, keyRunningStatus, keyLLMOutput, keyFirstFrame, keyNextNodeIDs,
		keyError, keyIncomplete, keyErrorType, keyDroppedNodes, keyQuestionTokens, keyPromptTokens,
		keyCompletionTokens, keyTotalTokens}
	for _, k := range conventionKeys {
		ks = append(ks, k, k+"x", k[:len(k)-1], strings.ToUpper(k[:1])+k[1:])
		if len(k) > 2 {
			ks = append(ks, k[:1]+strings.Repeat("#", len(k)-2)+k[len(k)-1:])
		}
		ks = append(ks, k[:len(k)-1]+string(k[len(k)-1]^2))
	}
	return ks
}

// TestAttrsMayRepeatProperty compares attrsMayRepeat with the exact check
// over lists drawn from nearMaskKeys and random bytes, up to past
// maxScanAttrs: it may say true where the exact check says false, never
// the other way round, and a key alone that the exact check tells is told.
// writeAttrsMeet, the same check beside the writing, tells the same.
func TestAttrsMayRepeatProperty(t *testing.T) {
	ks := nearMaskKeys()
	for _, k := range ks {
		as := []Attr{{Key: k}}
		if attrsRepeatExact(as) && !attrsMayRepeat(as) {
			t.Errorf("%q alone: missed", k)
		}
		if isConventionKey(k) != slices.Contains(conventionKeys[:], k) {
			t.Errorf("%q: isConventionKey %v, conventionKeys disagree", k, isConventionKey(k))
		}
	}
	var c strChecker
	for _, k := range ks {
		as := []Attr{{Key: k}, {Key: k + strings.Repeat("z", 40)}}
		if _, meet := c.writeAttrsMeet(nil, as); meet != attrsMayRepeat(as) {
			t.Errorf("%q: writeAttrsMeet %v, attrsMayRepeat %v", k, meet, !meet)
		}
	}
	rng := rand.New(rand.NewPCG(11, 16))
	for range 20000 {
		n := rng.IntN(8)
		if rng.IntN(20) == 0 {
			n = 60 + rng.IntN(10)
		}
		as := make([]Attr, n)
		for i := range as {
			if rng.IntN(4) == 0 {
				b := make([]byte, rng.IntN(24))
				for j := range b {
					const alpha = "abcdefgiosu._\xff"
					b[j] = alpha[rng.IntN(len(alpha))]
				}
				as[i].Key = string(b)
			} else {
				as[i].Key = ks[rng.IntN(len(ks))]
			}
		}
		if attrsRepeatExact(as) && !attrsMayRepeat(as) {
			t.Fatalf("missed a repeat or a convention key: %q", keysOf(as))
		}
		if _, meet := c.writeAttrsMeet(nil, as); meet != attrsMayRepeat(as) {
			t.Fatalf("writeAttrsMeet %v, attrsMayRepeat %v: %q", meet, !meet, keysOf(as))
		}
	}
}

// TestConventionWritesKnown: every key a fully set run or node span writes
// itself (conventionWrites) is one of conventionKeys, which attrsMayRepeat
// tells; a key it missed would be written twice on the span.
func TestConventionWritesKnown(t *testing.T) {
	nd := &Node{HasUsage: true, HasCode: true, Incomplete: true, FirstFrameUnixNano: 1, LLMOutput: "o", Next: []string{"n"},
		Cancelled: true, Events: []Event{{Kind: EventError}}}
	r := &Run{FlowID: "f", BotID: "b", Sub: "s", Caller: "c", DroppedNodes: 1, Incomplete: true, Events: nd.Events}
	for _, k := range nearMaskKeys() {
		if (conventionWrites(r, nil, k) || conventionWrites(r, nd, k)) && !isConventionKey(k) {
			t.Errorf("%q: written by the conventions but not in conventionKeys", k)
		}
	}
}

// FuzzAttrsMayRepeat: attrsMayRepeat never says false where the exact
// check says true, for the keys of a list split at NUL bytes.
func FuzzAttrsMayRepeat(f *testing.F) {
	for _, s := range []string{"a\x00a", "sid", "input.", "gen_ai.request.model\x00first_frame_duration", "config.x\x00y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var as []Attr
		for k := range strings.SplitSeq(s, "\x00") {
			as = append(as, Attr{Key: k})
		}
		if attrsRepeatExact(as) && !attrsMayRepeat(as) {
			t.Fatalf("missed: %q", keysOf(as))
		}
	})
}

func keysOf(as []Attr) []string {
	ks := make([]string, len(as))
	for i, a := range as {
		ks[i] = a.Key
	}
	return ks
}
