//go:build !race

package sid

const raceEnabled = false
