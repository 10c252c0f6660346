// Package deploy holds the production topology's supporting files — the
// worker's configuration for docker-compose.yml (config.yaml) and the
// directory of mounted tenant secrets — and the tests that check
// docker-compose.yml with the compose-spec parser, since no Docker engine is
// available where the tests run.
package deploy
