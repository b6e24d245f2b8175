package encode

import (
	"bytes"
	"os"
	"testing"
)

// TestTHPMadvise checks that adviseHugePages acts exactly when the kernel
// gives 2 MiB huge pages to advised memory only, as /sys says.
func TestTHPMadvise(t *testing.T) {
	mode, err1 := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	size, err2 := os.ReadFile("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
	want := err1 == nil && err2 == nil && bytes.Contains(mode, []byte("[madvise]")) &&
		string(bytes.TrimSpace(size)) == "2097152"
	if got := thpMadvise(); got != want {
		t.Fatalf("thpMadvise() = %v, want %v (enabled %q, hpage_pmd_size %q)", got, want, mode, size)
	}
}
