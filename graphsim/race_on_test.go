//go:build race

package graphsim

// raceSlowdown scales timing limits: the race detector slows the
// simulator's allocation-heavy paths about fivefold.
const raceSlowdown = 5
