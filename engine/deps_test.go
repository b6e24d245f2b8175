package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the capture core lean: package engine links no
// gRPC, no OpenTelemetry, no exporter and no HTTP server (those live in
// otlp, propagation, otelbridge and promhttp), and at most 100 packages in
// all, the standard library's included.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		switch {
		case strings.HasPrefix(d, "google.golang.org/grpc"),
			strings.HasPrefix(d, "go.opentelemetry.io/"),
			strings.HasPrefix(d, "google.golang.org/protobuf"),
			d == "github.com/flowtel/flowtel/export",
			d == "net/http":
			t.Errorf("engine depends on %s", d)
		}
	}
	if len(deps) > 100 {
		t.Errorf("engine links %d packages, want at most 100", len(deps))
	}
}

// TestLayers checks who may import whom (docs/design.md): the leaves
// import nothing of flowtel's but internal/hex, which imports nothing, and no package of the library imports one
// above it (the wiring packages, the load generator, the tests' kits).
func TestLayers(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	const mod = "github.com/flowtel/flowtel/"
	out, err := exec.Command(goTool, "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	leaves := map[string]bool{"ringbuf": true, "sid": true, "encode": true, "export": true,
		"internal/w3c": true, "internal/sampling": true, "internal/pin": true, "internal/hex": true}
	// May be imported only by the packages above them.
	wiring := map[string]bool{"otlp": true, "propagation": true, "otelbridge": true, "promhttp": true}
	library := map[string]bool{"engine": true, "otlp": true, "propagation": true, "otelbridge": true, "promhttp": true,
		"ringbuf": true, "sid": true, "encode": true, "export": true, "genai": true}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			imp = strings.TrimPrefix(imp, mod)
			switch {
			case leaves[pkg] && (imp != "internal/hex" || pkg == "internal/hex"):
				t.Errorf("%s is a leaf but imports %s", pkg, imp)
			case pkg == "engine" && (wiring[imp] || imp == "export"):
				t.Errorf("engine imports %s", imp)
			case library[pkg] && (imp == "internal/otlptest" || imp == "internal/otlpref" || imp == "internal/testkit" || imp == "internal/jaegerapi"):
				t.Errorf("%s imports the test kit %s", pkg, imp)
			case library[pkg] && !library[imp] && !strings.HasPrefix(imp, "internal/"):
				t.Errorf("%s imports %s, which is not part of the library", pkg, imp)
			case wiring[pkg] && wiring[imp]:
				t.Errorf("%s imports %s: the wiring packages stand side by side", pkg, imp)
			}
		}
	}
}
