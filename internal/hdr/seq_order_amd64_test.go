//go:build !race

package hdr

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSeqMarksCompiledInOrder builds this package, disassembles its
// records and checks what the plain sequence marks rely on the compiler for
// (seq_amd64.go): the begin's store is emitted, before the test of the
// shard's cur, and the end's stores are emitted. Go's memory model would
// let a compiler sink a plain store below an atomic load, or drop it as
// dead; Go's SSA does neither today (atomic loads take and make a memory
// state, and dead stores are found within a block only), so this guards
// against a compiler that starts to.
func TestSeqMarksCompiledInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool objdump")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to disassemble with")
	}
	begin := sourceLines(t, "seq_amd64.go", "*w = n")
	end := sourceLines(t, "seq_amd64.go", "*seqWord(s) = n + 1")
	// The load of cur is sync/atomic's Pointer.Load, inlined.
	goroot, err := exec.Command(goTool, "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	cur := sourceLines(t, filepath.Join(strings.TrimSpace(string(goroot)), "src", "sync", "atomic", "type.go"), ") Load() *T {")
	// The test binary go test runs has no symbol table: build the archive.
	archive := t.TempDir() + "/hdr.a"
	if out, err := exec.Command(goTool, "build", "-o", archive, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, fn := range []string{"RecordCounted", "RecordAll"} {
		out, err := exec.Command(goTool, "tool", "objdump", "-s", `hdr\.\(\*Histogram\)\.`+fn+`$`, archive).CombinedOutput()
		if err != nil {
			t.Fatalf("objdump %s: %v\n%s", fn, err, out)
		}
		var beginAt, endAt, curAt []uint64
		for l := range strings.Lines(string(out)) {
			f := strings.Fields(l)
			if len(f) < 4 || !strings.HasPrefix(f[1], "0x") {
				continue
			}
			addr, err := strconv.ParseUint(f[1][2:], 16, 64)
			if err != nil {
				continue
			}
			asm := strings.Join(f[3:], " ")
			switch {
			case begin[f[0]] && storeToMem.MatchString(asm):
				beginAt = append(beginAt, addr)
			case end[f[0]] && storeToMem.MatchString(asm):
				endAt = append(endAt, addr)
			case cur[f[0]]:
				curAt = append(curAt, addr)
			}
		}
		if len(beginAt) != 1 || len(endAt) == 0 || len(curAt) == 0 {
			t.Fatalf("%s: %d begin stores, %d end stores, %d instructions of the load of cur; want 1, some, some:\n%s", fn, len(beginAt), len(endAt), len(curAt), out)
		}
		if beginAt[0] > curAt[0] {
			t.Errorf("%s: the begin store (%#x) comes after the load of cur (%#x):\n%s", fn, beginAt[0], curAt[0], out)
		}
	}
}

// storeToMem matches a MOVQ from a register to memory, Go's assembler
// syntax (source first).
var storeToMem = regexp.MustCompile(`^MOVQ [A-Z0-9]+, [^,]*\(`)

// sourceLines returns the lines of file that hold text, as objdump names
// them (base name:line).
func sourceLines(t *testing.T, file, text string) map[string]bool {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := map[string]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.Contains(sc.Text(), text) {
			lines[fmt.Sprintf("%s:%d", filepath.Base(file), n)] = true
		}
	}
	if len(lines) == 0 {
		t.Fatalf("%s holds no %q", file, text)
	}
	return lines
}
