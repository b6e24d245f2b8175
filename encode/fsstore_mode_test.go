//go:build unix

package encode

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestFSStoreFileModeFollowsUmask stores a value under each of a few
// umasks and checks the file's mode is 0644 less the umask, as
// os.WriteFile's is. Before, Put chmod-ed every file to 0644: under
// umask 077 (a service run with UMask=0077 to keep its data private) the
// values, prompts and answers, were readable by every user of the host.
func TestFSStoreFileModeFollowsUmask(t *testing.T) {
	s, err := NewFSStore(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, umask := range []int{0o077, 0o027, 0o022, 0o002} {
		old := syscall.Umask(umask)
		err := s.Put(context.Background(), "k", []byte("v"))
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(s.Dir(), "k"))
		if err != nil {
			t.Fatal(err)
		}
		if want := os.FileMode(0o644 &^ umask); fi.Mode().Perm() != want {
			t.Errorf("umask %#o: file mode %v, want %v", umask, fi.Mode().Perm(), want)
		}
	}
}
