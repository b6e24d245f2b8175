package engine

import (
	"reflect"
	"testing"

	"github.com/flowtel/flowtel/encode"
)

// TestNodeResetClearsAll fills every field of a node record's encode.Node
// and checks that reset clears each: reset writes them one by one, so
// that a node without the rare fields does not touch their cache lines,
// and a field added to encode.Node must be added there too.
func TestNodeResetClearsAll(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(t.Context())
	r := newRunRecord(e, 0)
	n := newNodeRecord(r)
	v := reflect.ValueOf(&n.Node).Elem()
	for i := range v.NumField() {
		fill(t, v.Type().Field(i).Name, v.Field(i))
	}
	n.Input, _ = n.carve(n.Input[:0], 3)
	n.Input = n.Input[:3]
	n.Input[0] = String("k", "v")
	n.reset()
	for i := range v.NumField() {
		f := v.Field(i)
		name := v.Type().Field(i).Name
		if f.Kind() == reflect.Slice {
			if f.Len() != 0 {
				t.Errorf("reset left %s with %d elements", name, f.Len())
			}
			continue
		}
		if !f.IsZero() {
			t.Errorf("reset left %s = %v", name, f.Interface())
		}
	}
	if n.pooled != 0 || n.pool[0] != (encode.Attr{}) {
		t.Errorf("reset left the pool used: %d, %v", n.pooled, n.pool[0])
	}
}

// fill sets v, a field of encode.Node, to a value that is not zero.
func fill(t *testing.T, name string, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int64:
		v.SetInt(1)
	case reflect.Uint8, reflect.Uint32:
		v.SetUint(1)
	case reflect.Array:
		for i := range v.Len() {
			fill(t, name, v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			fill(t, name, v.Field(i))
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
	default:
		t.Fatalf("field %s: kind %s not filled", name, v.Kind())
	}
}
