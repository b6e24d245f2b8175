package encode

import "testing"

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
