package export

import (
	"runtime/debug"
	"strings"
)

// modulePath is flowtel's module, whose version userAgent carries.
const modulePath = "github.com/flowtel/flowtel"

// userAgent is the User-Agent both protocols send unless Headers set one:
// the exporter, the language of its implementation and its version, as
// the OTLP exporter specification asks of every OTLP exporter
// ("flowtel-otlp-exporter-go/v1.2.3"; gRPC appends its own). A receiver
// or proxy can then tell which exporter and release sent a request.
var userAgent = "flowtel-otlp-exporter-go/" + moduleVersion(debug.ReadBuildInfo())

// moduleVersion returns flowtel's version in the build info: the main
// module's when flowtel is built itself, else the dependency's (its
// replacement's when replaced), as a User-Agent product version token
// ("(devel)" becomes "devel"); "unknown" without build info.
func moduleVersion(bi *debug.BuildInfo, ok bool) string {
	v := ""
	if ok {
		if bi.Main.Path == modulePath {
			v = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				v = d.Version
				if d.Replace != nil && d.Replace.Version != "" {
					v = d.Replace.Version
				}
			}
		}
	}
	v = strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return -1
		}
		return r
	}, v)
	if v == "" {
		return "unknown"
	}
	return v
}
