package engine

import (
	"reflect"
	"testing"
	"unsafe"

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

// TestNodePlain checks that nodeRecord.plain refuses a node with any field
// of encode.Node set that resetPlain does not clear (the fields past Code,
// set only with the flag before them that plain checks, aside), and that
// resetPlain leaves a plain node as reset does.
func TestNodePlain(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(t.Context())
	r := newRunRecord(e, 0)
	plainNode := func() *nodeRecord {
		n := newNodeRecord(r)
		n.SpanID, n.ParentSpanID, n.StartUnixNano, n.EndUnixNano = encode.SpanID{1}, encode.SpanID{2}, 3, 4
		n.NodeID, n.NodeType, n.NodeName = "a:1", "a", "A"
		for _, l := range []*[]encode.Attr{&n.Input, &n.Output, &n.Config} {
			*l, _ = n.carve(*l, 2)
			*l = append(*l, String("k", "v"), Int64("i", 1))
		}
		n.big = 7
		return n
	}
	if n := plainNode(); !n.plain() {
		t.Fatal("a node with ids, times and pooled lists is not plain")
	}
	ident := map[string]bool{"SpanID": true, "ParentSpanID": true, "StartUnixNano": true, "EndUnixNano": true,
		"NodeID": true, "NodeType": true, "NodeName": true, "Input": true, "Output": true, "Config": true}
	typ := reflect.TypeFor[encode.Node]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if ident[f.Name] || f.Offset >= unsafe.Offsetof(encode.Node{}.Code) {
			continue
		}
		n := plainNode()
		v := reflect.ValueOf(&n.Node).Elem().Field(i)
		fill(t, f.Name, v)
		if n.plain() {
			t.Errorf("plain with %s set", f.Name)
		}
	}
	for _, set := range []func(n *nodeRecord){
		func(n *nodeRecord) { n.Input = make([]encode.Attr, 1) },
		func(n *nodeRecord) { n.Output = make([]encode.Attr, 1) },
		func(n *nodeRecord) { n.Config = make([]encode.Attr, 1) },
		func(n *nodeRecord) { n.eventAttrs = append(n.eventAttrs, String("k", "v")) },
		func(n *nodeRecord) { n.bytes = append(n.bytes, 1) },
	} {
		n := plainNode()
		set(n)
		if n.plain() {
			t.Errorf("plain with a list off the pool, an event attribute or a copied value: %+v", n.Node)
		}
	}
	a, b := plainNode(), plainNode()
	a.reset()
	b.resetPlain()
	if !reflect.DeepEqual(a, b) {
		t.Errorf("resetPlain left %+v, reset %+v", b.Node, a.Node)
	}
}
