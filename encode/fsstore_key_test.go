package encode

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestFSStoreKeyChecks: a key longer than a file name may be (255 bytes)
// is refused as ErrInvalidKey before a byte of the value is written (it
// failed at the rename, after the whole value), and a key starting with
// '-' is refused too: a file named "-x" is read as an option by the
// operator's rm, ls or find. A key of 255 bytes is stored.
func TestFSStoreKeyChecks(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFSStore(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	value := make([]byte, 1<<20)
	for _, key := range []string{strings.Repeat("k", 256), strings.Repeat("长", 86), "-x", "-", "--help", "-rf"} {
		if err := s.Put(context.Background(), key, value); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%.20q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("refused keys left %d files", len(entries))
	}
	for _, key := range []string{strings.Repeat("k", 255), "x-", "_-x"} {
		if err := s.Put(context.Background(), key, []byte("v")); err != nil {
			t.Errorf("Put(%.20q) = %v", key, err)
		}
	}
}

// TestOffloadKeyNoDash offloads the values of runs whose SID starts with
// '-' into a file store: each is stored, under a key that does not start
// with '-'.
func TestOffloadKeyNoDash(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	store, err := NewFSStore(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	o := NewOffloader(store, OffloadConfig{})
	var links []string
	for _, sid := range []string{"-", "-x", "--help"} {
		r, _ := offloadLargeRun(DefaultOffloadThreshold)
		r.SID = sid
		link, ok := strings.CutPrefix(offloadFields(t, AppendRunLogWith(nil, r, o))["question"], OffloadedPrefix)
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
		if name := filepath.Base(u.Path); strings.HasPrefix(name, "-") {
			t.Errorf("key %q starts with '-'", name)
		}
	}
}
