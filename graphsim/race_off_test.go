//go:build !race

package graphsim

const raceSlowdown = 1
