package encode

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestBoundedFSStoreRecounts fills a bounded store through an Offloader,
// removes files from outside the process, as the operator's cron job
// does, and checks the room comes back: the Reserve that finds the
// budget full starts a count of the directory, and the values after it
// are stored. Before, the room came back only with a restart. A count
// never leaves the budget counting less than the directory holds.
func TestBoundedFSStoreRecounts(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	const size = 6000
	store, err := NewBoundedFSStore(dir, "", 2*size+size/2, 100)
	if err != nil {
		t.Fatal(err)
	}
	store.rescanEvery = 0 // count at every full Reserve: no waiting here
	var total OffloadStats
	// offload offers a value and waits until it is stored or cut (Close).
	offload := func(i int) {
		o := NewOffloader(store, OffloadConfig{})
		AppendRunLogWith(nil, &Run{SID: "s" + strconv.Itoa(i), Question: strings.Repeat(string(rune('a'+i%26)), size)}, o)
		if err := o.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := o.Stats()
		total.Offloaded += s.Offloaded
		total.StoreFull += s.StoreFull
	}
	for i := range 3 {
		offload(i)
	}
	_ = store.Close()
	if total.Offloaded != 2 || total.StoreFull != 1 {
		t.Fatalf("stats %+v, want 2 offloaded and 1 cut", total)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	offload(3) // full: starts a count, cut
	_ = store.Close()
	if b, f := store.Used(); b != 0 || f != 0 {
		t.Fatalf("after the files were removed the store counts %d bytes in %d files", b, f)
	}
	offload(4)
	offload(5)
	if total.Offloaded != 4 || total.StoreFull != 2 {
		t.Fatalf("stats %+v, want 4 offloaded and 2 cut", total)
	}

	// At most one count every rescanEvery: a file removed now is not seen
	// by the next full Reserve, and the budget never counts less than the
	// directory holds.
	store.rescanEvery = time.Hour
	if store.Reserve(size) {
		t.Fatal("a full store took a value")
	}
	_ = store.Close()
	entries, _ = os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("dir holds %d files, want 2", len(entries))
	}
	if err := os.Remove(filepath.Join(dir, entries[0].Name())); err != nil {
		t.Fatal(err)
	}
	if store.Reserve(size) {
		t.Fatal("a store that counted within rescanEvery took a value")
	}
	_ = store.Close()
	if b, f := store.Used(); b != 2*size || f != 2 {
		t.Fatalf("Used = %d bytes in %d files, want the last count's %d in 2", b, f, 2*size)
	}
}
