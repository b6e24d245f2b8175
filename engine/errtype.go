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
// A pointer type has no name or package path (no method is declared on a
// named pointer type), so its String is typeStr's, read without
// allocating and without the reflect calls that look for a name. A named
// type's "path.Name" is built once per type and kept in errTypes, a list
// replaced on write and read with one atomic load and a scan, at most
// errTypesMax types: a program has few error types; past the bound each
// is built again (an allocation), never kept. BenchmarkErrorType (AMD
// EPYC, noisy) puts both within the noise of reflect's String, which
// exception.type cost before; a sync.Map of the names cost about twice
// reflect's String, hashing the interface.
func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		return t.String()
	}
	if l := errTypes.l.Load(); l != nil {
		for i := range *l {
			if (*l)[i].t == t {
				return (*l)[i].s
			}
		}
	}
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String() // an unnamed type, as struct{ error }
	}
	s := t.PkgPath() + "." + t.Name()
	errTypes.keep(t, s)
	return s
}

// errTypesMax bounds errTypes.
const errTypesMax = 32

// errTypes holds the named error types seen and their exception.type.
var errTypes typeNames

// typeNames is a copy-on-write list read with one atomic load.
type typeNames struct {
	l  atomic.Pointer[[]typeName]
	mu sync.Mutex
}

type typeName struct {
	t reflect.Type
	s string
}

// keep adds t's name s unless the list is full or holds it already.
func (c *typeNames) keep(t reflect.Type, s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var l []typeName
	if old := c.l.Load(); old != nil {
		l = *old
	}
	if len(l) >= errTypesMax {
		return
	}
	for _, n := range l {
		if n.t == t {
			return
		}
	}
	nl := append(l[:len(l):len(l)], typeName{t, s})
	c.l.Store(&nl)
}
