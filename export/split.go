package export

import (
	"iter"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Splitting a batch larger than the receiver's limit.
//
// An Export*ServiceRequest is resources, each holding scopes, each holding
// items (spans, log records) or metrics, each holding data points:
//
//	request:  1 resource_spans | resource_logs | resource_metrics (repeated)
//	resource: 1 resource, 2 scopes (repeated), 3 schema_url
//	scope:    1 scope, 2 spans | log_records | metrics (repeated), 3 schema_url
//	metric:   1 name, 2 description, 3 unit, 12 metadata, and one of
//	          5 gauge, 7 sum, 9 histogram, 10 exponential_histogram, 11 summary,
//	          each holding 1 data_points (repeated) and its other fields
//
// splitRequest cuts the request into units (one item, or one data point
// with its metric) that keep every field of the messages enclosing them,
// and packs consecutive units into requests of at most max bytes. It works
// on the wire bytes: nothing is decoded into structs, and the fields it
// does not know are carried unchanged. It runs only for an oversize batch.

// The field numbers of the structure above.
const (
	fieldResources  = 1
	fieldScopes     = 2
	fieldItems      = 2
	fieldDataPoints = 1
)

// nestCost bounds what one level of nesting adds around its body: a
// one-byte tag (field numbers under 16) and a length of at most 5 bytes.
const nestCost = 1 + 5

// unit is one span, log record or data point, with the indexes of the
// groups that enclose it.
type unit struct {
	res, scope, metric int // metric is -1 for traces and logs
	item               []byte
	items              int // 1, or 0 for a metric without data points
}

// metricGroup is a metric cut into its head (every field but its data)
// and the head of its data message (every field but the data points).
type metricGroup struct {
	head      []byte
	dataField protowire.Number // 0: no data message
	dataHead  []byte
}

type splitter struct {
	metrics    bool
	resHeads   [][]byte
	scopeHeads [][]byte
	metricsOf  []metricGroup
	units      []unit
}

// splitRequest splits body, an Export*ServiceRequest of sig, into requests
// of at most max bytes and calls emit with each and the items it holds
// (the bytes are valid only during the call). A
// unit that alone exceeds max is left out: tooLarge counts its items. It
// reports false, having emitted nothing, if body is not a well-formed
// request.
func splitRequest(sig Signal, body []byte, max int, emit func(req []byte, items int)) (tooLarge int, ok bool) {
	s := splitter{metrics: sig == Metrics}
	if !s.parse(body) {
		return 0, false
	}
	var chunk []unit
	var out []byte // reused for every part
	size := 0
	flush := func() {
		if len(chunk) == 0 {
			return
		}
		n := 0
		for _, u := range chunk {
			n += u.items
		}
		out = s.encode(out[:0], chunk)
		emit(out, n)
		chunk, size = chunk[:0], 0
	}
	for _, u := range s.units {
		if s.cost(u, nil) > max {
			tooLarge += u.items
			continue
		}
		c := s.cost(u, chunk)
		if size+c > max {
			flush()
			c = s.cost(u, nil)
		}
		chunk = append(chunk, u)
		size += c
	}
	flush()
	return tooLarge, true
}

// cost bounds the bytes u adds to a request whose last units are chunk:
// the item, and the heads of the groups it opens.
func (s *splitter) cost(u unit, chunk []unit) int {
	c := len(u.item) + nestCost
	var last *unit
	if len(chunk) > 0 {
		last = &chunk[len(chunk)-1]
	}
	if last == nil || last.res != u.res {
		c += len(s.resHeads[u.res]) + nestCost
		last = nil
	}
	if last == nil || last.scope != u.scope {
		c += len(s.scopeHeads[u.scope]) + nestCost
		last = nil
	}
	if u.metric >= 0 && (last == nil || last.metric != u.metric) {
		m := s.metricsOf[u.metric]
		c += len(m.head) + nestCost + len(m.dataHead) + nestCost
	}
	return c
}

// fields splits a message into the values of field child (length-
// delimited) and every other field, raw.
func fields(b []byte, child protowire.Number, children func([]byte)) (head []byte, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, false
		}
		if num == child {
			if typ != protowire.BytesType {
				return nil, false
			}
			v, _ := protowire.ConsumeBytes(b[n:])
			children(v)
		} else {
			head = append(head, b[:n+m]...)
		}
		b = b[n+m:]
	}
	return head, true
}

// isDataField reports whether num is a Metric field that holds data points.
func isDataField(num protowire.Number) bool {
	switch num {
	case 5, 7, 9, 10, 11:
		return true
	}
	return false
}

func (s *splitter) parse(body []byte) bool {
	ok := true
	head, ok0 := fields(body, fieldResources, func(res []byte) {
		r := len(s.resHeads)
		s.resHeads = append(s.resHeads, nil)
		rh, ok1 := fields(res, fieldScopes, func(scope []byte) {
			sc := len(s.scopeHeads)
			s.scopeHeads = append(s.scopeHeads, nil)
			sh, ok2 := fields(scope, fieldItems, func(item []byte) {
				if !s.metrics {
					s.units = append(s.units, unit{res: r, scope: sc, metric: -1, item: item, items: 1})
					return
				}
				if !s.parseMetric(r, sc, item) {
					ok = false
				}
			})
			s.scopeHeads[sc] = sh
			ok = ok && ok2
		})
		s.resHeads[r] = rh
		ok = ok && ok1
	})
	// A request has no field besides its resources.
	return ok && ok0 && len(head) == 0
}

func (s *splitter) parseMetric(r, sc int, metric []byte) bool {
	mi := len(s.metricsOf)
	var g metricGroup
	points := 0
	for b := metric; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return false
		}
		if isDataField(num) && typ == protowire.BytesType {
			if g.dataField != 0 {
				// A second data message (merged or replacing the first
				// when decoded): not what an encoder writes; not split.
				return false
			}
			data, _ := protowire.ConsumeBytes(b[n:])
			g.dataField = num
			dh, ok := fields(data, fieldDataPoints, func(p []byte) {
				s.units = append(s.units, unit{res: r, scope: sc, metric: mi, item: p, items: 1})
				points++
			})
			if !ok {
				return false
			}
			g.dataHead = dh
		} else {
			g.head = append(g.head, b[:n+m]...)
		}
		b = b[n+m:]
	}
	if points == 0 {
		s.units = append(s.units, unit{res: r, scope: sc, metric: mi})
	}
	s.metricsOf = append(s.metricsOf, g)
	return true
}

// The parts are written in one pass into one buffer, reused from part to
// part and grown once to the part's exact size: each message's length is
// computed from its units before it is written (the sizes below mirror the
// appends). Building every level in a temporary slice and copying it into
// the next cost, for an 8 MiB request (BenchmarkSplitRequest), 62 MB and
// 35 ms; this costs 4.2 MB (the part buffer) and 3-6 ms.

// fieldSize is the size of a length-delimited field of n bytes: a one-byte
// tag (every field number here is under 16), the length, the bytes.
func fieldSize(n int) int { return 1 + protowire.SizeVarint(uint64(n)) + n }

func appendField(b []byte, num protowire.Number, n int) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(n))
}

// groups yields the runs of consecutive units with the same key: the
// resources of a request, the scopes of a resource, the metrics of a scope.
func groups(units []unit, key func(*unit) int) iter.Seq[[]unit] {
	return func(yield func([]unit) bool) {
		for i := 0; i < len(units); {
			k := key(&units[i])
			j := i + 1
			for j < len(units) && key(&units[j]) == k {
				j++
			}
			if !yield(units[i:j]) {
				return
			}
			i = j
		}
	}
}

func resKey(u *unit) int    { return u.res }
func scopeKey(u *unit) int  { return u.scope }
func metricKey(u *unit) int { return u.metric }

// encode appends to dst the request holding units, consecutive units of
// one group sharing its head.
func (s *splitter) encode(dst []byte, units []unit) []byte {
	dst = slices.Grow(dst, sizeGroups(units, resKey, s.resourceSize))
	return appendGroups(dst, units, resKey, fieldResources, s.resourceSize, s.appendResource)
}

// sizeGroups returns the bytes of the fields holding each group of units
// (grouped by key), size giving a group's body.
func sizeGroups(units []unit, key func(*unit) int, size func([]unit) int) int {
	n := 0
	for g := range groups(units, key) {
		n += fieldSize(size(g))
	}
	return n
}

// appendGroups appends each group of units (grouped by key) as a field
// numbered field: its tag, its size (size) and its body (body).
func appendGroups(dst []byte, units []unit, key func(*unit) int, field protowire.Number,
	size func([]unit) int, body func([]byte, []unit) []byte) []byte {
	for g := range groups(units, key) {
		dst = appendField(dst, field, size(g))
		dst = body(dst, g)
	}
	return dst
}

func (s *splitter) resourceSize(units []unit) int {
	return len(s.resHeads[units[0].res]) + sizeGroups(units, scopeKey, s.scopeSize)
}

func (s *splitter) appendResource(dst []byte, units []unit) []byte {
	dst = append(dst, s.resHeads[units[0].res]...)
	return appendGroups(dst, units, scopeKey, fieldScopes, s.scopeSize, s.appendScope)
}

func (s *splitter) scopeSize(units []unit) int {
	n := len(s.scopeHeads[units[0].scope])
	if s.metrics {
		return n + sizeGroups(units, metricKey, s.metricSize)
	}
	for _, u := range units {
		n += fieldSize(len(u.item))
	}
	return n
}

func (s *splitter) appendScope(dst []byte, units []unit) []byte {
	dst = append(dst, s.scopeHeads[units[0].scope]...)
	if s.metrics {
		return appendGroups(dst, units, metricKey, fieldItems, s.metricSize, s.appendMetric)
	}
	for _, u := range units {
		dst = appendField(dst, fieldItems, len(u.item))
		dst = append(dst, u.item...)
	}
	return dst
}

func (s *splitter) metricSize(units []unit) int {
	g := &s.metricsOf[units[0].metric]
	n := len(g.head)
	if g.dataField != 0 {
		n += fieldSize(dataSize(g, units))
	}
	return n
}

func dataSize(g *metricGroup, units []unit) int {
	n := len(g.dataHead)
	for _, u := range units {
		if u.items > 0 {
			n += fieldSize(len(u.item))
		}
	}
	return n
}

func (s *splitter) appendMetric(dst []byte, units []unit) []byte {
	g := &s.metricsOf[units[0].metric]
	dst = append(dst, g.head...)
	if g.dataField == 0 {
		return dst
	}
	dst = appendField(dst, g.dataField, dataSize(g, units))
	dst = append(dst, g.dataHead...)
	for _, u := range units {
		if u.items > 0 {
			dst = appendField(dst, fieldDataPoints, len(u.item))
			dst = append(dst, u.item...)
		}
	}
	return dst
}
