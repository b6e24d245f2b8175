package encode

import (
	"context"
	"errors"
	"os"
	"testing"
)

// TestZeroStores: the zero FSStore refuses to store (it wrote the value
// into the working directory) and the zero Offloader closes (it closed a
// nil channel).
func TestZeroStores(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var s FSStore
	if err := s.Put(context.Background(), "key", []byte("v")); !errors.Is(err, errZeroFSStore) {
		t.Errorf("zero FSStore Put: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the zero FSStore wrote %d files into the working directory", len(ents))
	}
	var o Offloader
	if err := o.Close(context.Background()); err != nil {
		t.Errorf("zero Offloader Close: %v", err)
	}
}
