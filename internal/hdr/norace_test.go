//go:build !race

package hdr

const raceEnabled = false
