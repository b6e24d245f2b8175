package encode

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// unwritableDirs returns existing directories this process cannot create
// a file in: one made read-only (which binds a user other than root) and
// /sys (which binds root too). Each is checked by writing into it.
func unwritableDirs(t *testing.T) []string {
	t.Helper()
	ro := t.TempDir()
	if err := os.Chmod(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(ro, 0o700) })
	var dirs []string
	for _, d := range []string{ro, "/sys"} {
		if err := os.WriteFile(filepath.Join(d, "probe"), nil, 0o600); err == nil {
			_ = os.Remove(filepath.Join(d, "probe"))
			continue
		}
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		t.Skip("no directory here that this process cannot write into")
	}
	return dirs
}

// TestFSStoreRefusesUnwritableDir gives the constructors a directory that
// exists and cannot be written into (a read-only mount, another user's):
// they refuse it, where they accepted it and every Put failed afterwards,
// each counted as a failed offload long after the service started.
func TestFSStoreRefusesUnwritableDir(t *testing.T) {
	for _, dir := range unwritableDirs(t) {
		if s, err := NewFSStore(dir, ""); err == nil {
			t.Errorf("NewFSStore(%q) accepted a directory it cannot write into (Put: %v)", dir, s.Put(context.Background(), "k", []byte("v")))
		}
		if _, err := NewBoundedFSStore(dir, "", 1<<20, 10); err == nil {
			t.Errorf("NewBoundedFSStore(%q) accepted a directory it cannot write into", dir)
		}
	}
	// The check leaves nothing behind in a directory it accepts.
	dir := t.TempDir()
	if _, err := NewFSStore(dir, ""); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("NewFSStore left %d files in %s", len(entries), dir)
	}
}

// TestFSStoreRefusesTempKeys: a key named as Put's temporary files is
// refused. Before, Put(".tmp-x") stored a file that a cleaner of
// interrupted Puts would delete, and a key equal to a concurrent Put's temporary name was renamed over
// it, so that Put stored this value under its own key.
func TestFSStoreRefusesTempKeys(t *testing.T) {
	s, err := NewFSStore(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{".tmp-", ".tmp-123", ".tmp-x.json"} {
		if err := s.Put(context.Background(), key, []byte("v")); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	for _, key := range []string{".tmp", "x.tmp-1", "_tmp-1"} {
		if err := s.Put(context.Background(), key, []byte("v")); err != nil {
			t.Errorf("Put(%q) = %v", key, err)
		}
	}
}

// TestOffloadKeyNotHidden offloads the values of runs whose SID starts
// with '.' into a bounded file store: every value is stored, under a key
// that is not a hidden file, and a store made again over the directory
// counts every file. Before, the SID ".tmp" made keys starting ".tmp-",
// which FSStore took for its temporary files.
func TestOffloadKeyNotHidden(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	store, err := NewBoundedFSStore(dir, "", 1<<30, 1000)
	if err != nil {
		t.Fatal(err)
	}
	o := NewOffloader(store, OffloadConfig{})
	var links []string
	for _, sid := range []string{".tmp", ".", "..", ".x"} {
		r, _ := offloadLargeRun(DefaultOffloadThreshold)
		r.SID = sid
		got := offloadFields(t, AppendRunLogWith(nil, r, o))
		link, ok := strings.CutPrefix(got["question"], OffloadedPrefix)
		if !ok {
			t.Fatalf("SID %q: question not offloaded", sid)
		}
		links = append(links, link)
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := o.Stats(); s.Failed != 0 || s.Offloaded != s.Enqueued {
		t.Fatalf("stats %+v, want every value stored", s)
	}
	for _, link := range links {
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		if name := filepath.Base(u.Path); strings.HasPrefix(name, ".") {
			t.Errorf("key %q is a hidden file", name)
		}
	}
	entries, _ := os.ReadDir(dir)
	again, err := NewBoundedFSStore(dir, "", 1<<30, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, files := again.Used(); files != len(entries) {
		t.Fatalf("a store made again counts %d files of the %d in the directory", files, len(entries))
	}
}

// TestBoundedFSStoreCountsLeftTempFiles leaves in the directory what a
// process killed during Puts leaves, temporary files, and checks a new
// bounded store counts them against its budget. Before, they were left
// out: a process killed again and again while storing (an OOM loop)
// filled the disk with them past any budget.
func TestBoundedFSStoreCountsLeftTempFiles(t *testing.T) {
	dir := t.TempDir()
	for i, size := range []int{1000, 500} {
		if err := os.WriteFile(filepath.Join(dir, tmpPrefix+strconv.Itoa(i)), make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := NewBoundedFSStore(dir, "", 2000, 10)
	if err != nil {
		t.Fatal(err)
	}
	if b, f := s.Used(); b != 1500 || f != 2 {
		t.Fatalf("Used() = %d bytes in %d files, want the 1500 in 2 the interrupted Puts left", b, f)
	}
	if s.Reserve(501) {
		t.Fatal("Reserve(501) fit a budget of 2000 bytes holding 1500")
	}
}
