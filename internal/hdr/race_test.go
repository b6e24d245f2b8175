//go:build race

package hdr

const raceEnabled = true
