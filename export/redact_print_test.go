package export

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// TestConfigPrintsNoSecret: a Config logged with %v, %+v or %#v, alone, by
// pointer or inside another struct, shows no header value and no
// credential of an endpoint, its signals' or its large-value store's;
// nor with a verb that takes no Stringer (%d, %t, %e...), for which fmt
// printed every field (%!d(string=Bearer s3cret-token)) until Format.
func TestConfigPrintsNoSecret(t *testing.T) {
	c, secrets := secretsConfig()
	outer := struct {
		Name string
		C    Config
	}{"env", c}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%t", "%e", "%g", "%o", "%b", "%c", "%U", "%x", "%X", "%q", "%-8v", "%+q", "%-+v"} {
		for _, v := range []any{c, &c, outer, c.Traces, &c.Traces, c.LargeFields} {
			out := fmt.Sprintf(verb, v)
			if verb == "%x" || verb == "%X" {
				// Each string in hex (a struct's fields apart).
				out = hexRuns.ReplaceAllStringFunc(out, func(h string) string {
					b, _ := hex.DecodeString(h)
					return string(b)
				})
			}
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("%s of %T prints %q: %s", verb, v, s, out)
				}
			}
			if !strings.Contains(out, "collector") && !strings.Contains(out, "store") {
				t.Errorf("%s of %T hides the endpoint itself: %s", verb, v, out)
			}
		}
	}
	if got := fmt.Sprintf("%+v", c); !strings.Contains(got, "Authorization:"+redacted) {
		t.Errorf("header names should stay: %s", got)
	}
	if got := fmt.Sprintf("%#v", c.Traces); !strings.HasPrefix(got, "export.SignalConfig{") {
		t.Errorf("%%#v is %s, want GoString", got)
	}
	for _, verb := range []string{"%q", "%x", "%-700s", "%.20v", "%d"} {
		want := fmt.Sprintf(strings.Replace(strings.Replace(verb, "v", "s", 1), "d", "s", 1), c.Traces.String())
		if got := fmt.Sprintf(verb, c.Traces); got != want {
			t.Errorf("%s is %s, want %s", verb, got, want)
		}
	}
}

// secretsConfig returns a Config with secrets in its headers, endpoint,
// a signal's headers and its large-value store, and those secrets.
func secretsConfig() (Config, []string) {
	return Config{
		Endpoint: "https://user:hunter22@collector:4318/v1?token=qtoken123",
		Headers:  map[string]string{"Authorization": "Bearer s3cret-token"},
		Traces:   SignalConfig{Endpoint: "https://collector/v1/traces", Headers: map[string]string{"x-key": "sigsecret"}},
		LargeFields: LargeFieldConfig{
			URL: "https://store/bucket?sig=storekey9", Headers: map[string]string{"x-api-key": "storekey9"},
		},
	}, []string{"s3cret-token", "hunter22", "qtoken123", "sigsecret", "storekey9"}
}

// hexRuns finds the strings fmt's %x and %X wrote.
var hexRuns = regexp.MustCompile(`[0-9a-fA-F]{2,}`)
