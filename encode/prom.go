package encode

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// PromContentType is the Content-Type of AppendPrometheus's output.
const PromContentType = "text/plain; version=0.0.4; charset=utf-8"

// AppendPrometheus appends ms in the Prometheus text exposition format
// 0.0.4 and returns the extended slice. A metric's name is sanitised ('.'
// becomes '_') and followed by its unit's suffix ("s" "_seconds", "us"
// "_microseconds", "By" "_bytes"; none for an annotation such as
// "{token}") unless it already ends with it, as OpenTelemetry's
// Prometheus translation names it:
//   - a monotonic Sum is a counter whose name ends in "_total";
//   - a non-monotonic Sum or a Gauge is a gauge;
//   - a Histogram is a histogram: cumulative "_bucket" samples with an "le"
//     label per bound and "+Inf", then "_sum" and "_count";
//   - an ExponentialHistogram has no 0.0.4 form and is skipped.
//
// Every family gets HELP (the description, or the name) and TYPE lines.
// Metric and label names are sanitised to Prometheus' character set, label
// values and HELP text are escaped, and invalid UTF-8 is replaced by
// U+FFFD. Points carry no timestamps. It allocates nothing when dst has
// enough capacity.
//
// Names a caller chooses cannot break the exposition, which a scraper
// refuses whole:
//   - a label name the format reserves (a leading "__", as "__name__")
//     gets the prefix "key", and "le" on a histogram, whose buckets use it,
//     is written "key_le";
//   - attributes whose label names are then the same (an attribute key
//     "a.b" beside "a_b") are one label whose values are joined by ';' in
//     the order of their keys, as OpenTelemetry's Prometheus translation
//     joins them;
//   - a metric whose family name (sanitised, with its suffixes) an earlier
//     one has taken ("a.b" after "a_b", a counter "x" after a counter
//     "x_total") is left out, with a comment line saying so, since the
//     format requires each family once.
func AppendPrometheus(dst []byte, ms []Metric) []byte {
	for i := range ms {
		m := &ms[i]
		typ := promType(m)
		if typ == "" {
			continue
		}
		// The unit's suffix, unless the name ends with it (flowtel's
		// own names do), then "_total" for a counter, as OpenTelemetry's
		// Prometheus translation names them.
		name, suffix := promFamily(m, typ)
		if taken := promFamilyTaken(dst, ms, i, name, suffix); taken >= 0 {
			dst = append(dst, "# flowtel: metric "...)
			dst = promAppendName(dst, name, suffix)
			dst = append(dst, " left out: an earlier metric has its name\n"...)
			continue
		}
		hist := typ == "histogram"
		dst = append(dst, "# HELP "...)
		dst = promAppendName(dst, name, suffix)
		dst = append(dst, ' ')
		if m.Description != "" {
			dst = promAppendEscaped(dst, m.Description, false)
		} else {
			dst = promAppendName(dst, name, suffix)
		}
		dst = append(dst, "\n# TYPE "...)
		dst = promAppendName(dst, name, suffix)
		dst = append(dst, ' ')
		dst = append(dst, typ...)
		dst = append(dst, '\n')
		for j := range m.Points {
			p := &m.Points[j]
			if typ != "histogram" {
				dst = promAppendName(dst, name, suffix)
				dst = promAppendLabels(dst, p.Attrs, "", 0, false)
				if p.IsInt {
					dst = strconv.AppendInt(dst, p.Int, 10)
				} else {
					dst = promAppendFloat(dst, p.Double)
				}
				dst = append(dst, '\n')
				continue
			}
			// Bucket k of BucketCounts is (Bounds[k-1], Bounds[k]]; the
			// last, above every bound, is the +Inf bucket whose cumulative
			// count is Count.
			var cum uint64
			for k := 0; k < len(p.Bounds) && k < len(p.BucketCounts); k++ {
				cum += p.BucketCounts[k]
				if math.IsInf(p.Bounds[k], 1) {
					break // +Inf is written once, below
				}
				dst = promAppendName(dst, name, "_bucket")
				dst = promAppendLabels(dst, p.Attrs, "le", p.Bounds[k], hist)
				dst = strconv.AppendUint(dst, cum, 10)
				dst = append(dst, '\n')
			}
			dst = promAppendName(dst, name, "_bucket")
			dst = promAppendLabels(dst, p.Attrs, "le", math.Inf(1), hist)
			dst = strconv.AppendUint(dst, p.Count, 10)
			dst = append(dst, '\n')
			dst = promAppendName(dst, name, "_sum")
			dst = promAppendLabels(dst, p.Attrs, "", 0, hist)
			dst = promAppendFloat(dst, p.Sum)
			dst = append(dst, '\n')
			dst = promAppendName(dst, name, "_count")
			dst = promAppendLabels(dst, p.Attrs, "", 0, hist)
			dst = strconv.AppendUint(dst, p.Count, 10)
			dst = append(dst, '\n')
		}
	}
	return dst
}

// promName is a metric's name and the suffix its unit adds.
type promName struct{ name, unit string }

// promUnitSuffix returns the suffix OpenTelemetry's Prometheus translation
// adds for unit ("s" "_seconds", "By" "_bytes", ...; none for an
// annotation such as "{token}"), or "" when name already ends with it.
func promUnitSuffix(name, unit string) string {
	var s string
	switch unit {
	case "s":
		s = "_seconds"
	case "ms":
		s = "_milliseconds"
	case "us":
		s = "_microseconds"
	case "By":
		s = "_bytes"
	default:
		return ""
	}
	if strings.HasSuffix(name, s) || strings.HasSuffix(name, s+"_total") {
		return ""
	}
	return s
}

// promAppendName appends the name, its unit's suffix and suffix with every
// character outside [a-zA-Z0-9_:] replaced by '_' and a '_' before a
// leading digit. An empty name becomes "_".
func promAppendName(dst []byte, n promName, suffix string) []byte {
	dst = promAppendSanitized(dst, n.name, n.unit, true)
	return append(dst, suffix...)
}

// promAppendSanitized appends s+suffix sanitised as a metric name (colons
// allowed) or a label name.
func promAppendSanitized(dst []byte, s, suffix string, colon bool) []byte {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		dst = append(dst, '_')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || (colon && c == ':') {
			dst = append(dst, c)
		} else {
			dst = append(dst, '_')
		}
	}
	return append(dst, suffix...)
}

// promFamily returns metric m's name and unit suffix, and the suffix its
// type adds ("_total" for a counter whose name lacks it).
func promFamily(m *Metric, typ string) (promName, string) {
	suffix := ""
	if typ == "counter" && !strings.HasSuffix(m.Name, "_total") {
		suffix = "_total"
	}
	return promName{m.Name, promUnitSuffix(m.Name, m.Unit)}, suffix
}

// promType returns the exposition type of m, "" for a kind the format
// lacks.
func promType(m *Metric) string {
	switch {
	case m.Kind == MetricSum && m.Monotonic:
		return "counter"
	case m.Kind == MetricSum || m.Kind == MetricGauge:
		return "gauge"
	case m.Kind == MetricHistogram:
		return "histogram"
	}
	return ""
}

// promFamilyTaken returns the index of a metric before ms[i] written under
// the family name name+suffix, or -1. It compares the names as written,
// appended past len(dst) and not kept.
func promFamilyTaken(dst []byte, ms []Metric, i int, name promName, suffix string) int {
	start := len(dst)
	tmp := promAppendName(dst, name, suffix)
	n := len(tmp) - start
	for j := 0; j < i; j++ {
		typ := promType(&ms[j])
		if typ == "" {
			continue
		}
		jn, js := promFamily(&ms[j], typ)
		tmp = promAppendName(tmp[:start+n], jn, js)
		if string(tmp[start:start+n]) == string(tmp[start+n:]) {
			return j
		}
	}
	return -1
}

// promAppendLabelName appends the label name of attribute key k:
// sanitised, with the prefix "key" when it would start with the "__" the
// format reserves, and "key_le" for "le" on a histogram (hist).
func promAppendLabelName(dst []byte, k string, hist bool) []byte {
	start := len(dst)
	dst = promAppendSanitized(dst, k, "", false)
	switch name := dst[start:]; {
	case len(name) >= 2 && name[0] == '_' && name[1] == '_':
		dst = promAppendSanitized(append(dst[:start], "key"...), k, "", false)
	case hist && string(name) == "le":
		dst = append(dst[:start], "key_le"...)
	}
	return dst
}

// promPlainLabels reports whether attrs' keys are label names as they are
// (no rename) and distinct: the common case, written without comparing
// the names as written.
func promPlainLabels(attrs []Attr, hist bool) bool {
	for i := range attrs {
		k := attrs[i].Key
		if k == "" || k[0] >= '0' && k[0] <= '9' || len(k) >= 2 && k[0] == '_' && k[1] == '_' || hist && k == "le" {
			return false
		}
		for j := 0; j < len(k); j++ {
			if c := k[j]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				return false
			}
		}
		for j := 0; j < i; j++ {
			if attrs[j].Key == k {
				return false
			}
		}
	}
	return true
}

// promSameLabel reports whether key's label name is dst[at:at+n], writing
// it past len(dst) and not keeping it; it returns dst, grown.
func promSameLabel(dst []byte, at, n int, key string, hist bool) (bool, []byte) {
	tmp := promAppendLabelName(dst, key, hist)
	return string(tmp[len(dst):]) == string(tmp[at:at+n]), tmp[:len(dst)]
}

// promAfter reports whether attribute a comes after attribute b in the
// order of their keys (then of their positions).
func promAfter(attrs []Attr, a, b int) bool {
	ka, kb := attrs[a].Key, attrs[b].Key
	return ka > kb || ka == kb && a > b
}

// promAppendLabels appends {k="v",...} for attrs plus the extra label
// extraName=extra when extraName is non-empty, then a space. With no
// labels it appends only the space. hist says the labels are a
// histogram's (see promAppendLabelName).
func promAppendLabels(dst []byte, attrs []Attr, extraName string, extra float64, hist bool) []byte {
	if len(attrs) == 0 && extraName == "" {
		return append(dst, ' ')
	}
	dst = append(dst, '{')
	plain := promPlainLabels(attrs, hist)
	wrote := false
	for i := range attrs {
		if plain {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = promAppendSanitized(dst, attrs[i].Key, "", false)
			dst = append(dst, `="`...)
			dst = promAppendValue(dst, attrs[i].Value)
			dst = append(dst, '"')
			continue
		}
		// Write the label of attribute i once, at the first attribute
		// of its name, with the values of every attribute of that name.
		mark := len(dst)
		if wrote {
			dst = append(dst, ',')
		}
		at := len(dst)
		dst = promAppendLabelName(dst, attrs[i].Key, hist)
		n := len(dst) - at
		first := true
		for j := 0; j < i && first; j++ {
			var same bool
			same, dst = promSameLabel(dst, at, n, attrs[j].Key, hist)
			first = !same
		}
		if !first {
			dst = dst[:mark] // written with an earlier attribute
			continue
		}
		wrote = true
		dst = append(dst, `="`...)
		prev := -1
		for {
			next := -1
			for k := i; k < len(attrs); k++ {
				if prev >= 0 && !promAfter(attrs, k, prev) || next >= 0 && promAfter(attrs, k, next) {
					continue
				}
				if k != i {
					var same bool
					if same, dst = promSameLabel(dst, at, n, attrs[k].Key, hist); !same {
						continue
					}
				}
				next = k
			}
			if next < 0 {
				break
			}
			if prev >= 0 {
				dst = append(dst, ';')
			}
			dst = promAppendValue(dst, attrs[next].Value)
			prev = next
		}
		dst = append(dst, '"')
	}
	if extraName != "" {
		if len(attrs) > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, extraName...)
		dst = append(dst, `="`...)
		dst = promAppendFloat(dst, extra)
		dst = append(dst, '"')
	}
	return append(dst, "} "...)
}

// promAppendValue appends v as an escaped label value.
func promAppendValue(dst []byte, v Value) []byte {
	switch v.Kind() {
	case KindString, KindBytes:
		return promAppendEscaped(dst, v.Str(), true)
	case KindInt64:
		return strconv.AppendInt(dst, v.Int64(), 10)
	case KindFloat64:
		return promAppendFloat(dst, v.Float64())
	case KindBool:
		return strconv.AppendBool(dst, v.Bool())
	}
	return dst
}

// promAppendEscaped appends s with backslash and newline escaped, and the
// double quote too in a label value; invalid UTF-8 becomes U+FFFD.
func promAppendEscaped(dst []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			dst = append(dst, `\\`...)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '"' && quote:
			dst = append(dst, `\"`...)
		case c < utf8.RuneSelf:
			dst = append(dst, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return dst
}

// promAppendFloat appends v as Prometheus writes floats: shortest
// representation, "+Inf", "-Inf", "NaN".
func promAppendFloat(dst []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(dst, "+Inf"...)
	case math.IsInf(v, -1):
		return append(dst, "-Inf"...)
	case math.IsNaN(v):
		return append(dst, "NaN"...)
	}
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}
