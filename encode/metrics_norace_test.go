//go:build !race

package encode_test

const metricsRace = false
