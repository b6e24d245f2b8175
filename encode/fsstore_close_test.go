package encode

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestFSStoreCountEndsWithOffloader: the count of the directory a full
// bounded store starts runs on a goroutine of its own, and the
// Offloader's Close waits for it (FSStore.Close), so that no goroutine of
// the store outlives the sink that closed it (goleak in the user's tests)
// and the budget after Close is what the count found. Before, Close
// returned with the count under way: its goroutine left behind, the
// budget still the old one.
func TestFSStoreCountEndsWithOffloader(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	// Enough files that the count takes a while (a stat each).
	const files = 3000
	for i := range files {
		if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(i)), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	store, err := NewBoundedFSStore(dir, "", 1<<20, files)
	if err != nil {
		t.Fatal(err)
	}
	store.rescanEvery = 0 // count at the first full Reserve: no waiting here
	// Removed from outside: the count that the full Reserve starts finds
	// one file fewer.
	if err := os.Remove(filepath.Join(dir, "f0")); err != nil {
		t.Fatal(err)
	}
	o := NewOffloader(store, OffloadConfig{})
	AppendRunLogWith(nil, &Run{SID: "s", Question: strings.Repeat("q", 2*DefaultOffloadThreshold)}, o)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := o.Stats(); s.StoreFull != 1 {
		t.Fatalf("stats %+v, want the value cut as store full", s)
	}
	if b, f := store.Used(); b != files-1 || f != files-1 {
		t.Fatalf("after Close the store counts %d bytes in %d files, want the count's %d in %d", b, f, files-1, files-1)
	}
}
