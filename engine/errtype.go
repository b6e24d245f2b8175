package engine

import (
	"reflect"
	"sync"
	"sync/atomic"
)

// errorType returns the exception.type of err as OpenTelemetry Go's
// RecordError writes it (sdk/trace's typeStr): the package path and name
// of a named type ("net/url.Error", "syscall.Errno"), else the type's
// String ("*url.Error" for a pointer, as most errors are). Writing
// reflect's String for every type, as before, gave "url.Error" for the
// first, which names no package a reader can find and differs from the
// SDK's spans in the same trace.
//
// A pointer's String is reflect's own, without allocating; a named type's
// "path.Name" is built once per type and kept in errTypes, at most
// errTypesMax of them (a program has few error types; past the bound each
// is built again, never kept).
func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String()
	}
	if s, ok := errTypes.Load(t); ok {
		return s.(string)
	}
	s := t.PkgPath() + "." + t.Name()
	if errTypesN.Load() < errTypesMax {
		if _, loaded := errTypes.LoadOrStore(t, s); !loaded {
			errTypesN.Add(1)
		}
	}
	return s
}

// errTypesMax bounds errTypes.
const errTypesMax = 1024

var (
	errTypes  sync.Map // reflect.Type → string
	errTypesN atomic.Int64
)
