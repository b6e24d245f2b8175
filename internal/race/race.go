// Package race reports whether the race detector is on, so that
// allocation tests can skip themselves under -race.
package race
