// Package dockerclient makes the Docker engine client that every part of qwatch uses, set up
// the way the docker command line sets up its own.
package dockerclient

import "github.com/docker/docker/client"

// New returns a client for the engine the environment names: DOCKER_HOST (else the local
// socket), DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, DOCKER_API_VERSION. A host other than ""
// takes the place of DOCKER_HOST. Unless DOCKER_API_VERSION fixes one, the client agrees on
// the API version with the engine at its first request, so that it talks to older engines
// too (Docker 20.10 speaks API 1.41). New does not contact the engine; the caller closes the
// client.
func New(host string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	return client.NewClientWithOpts(append(opts, client.WithAPIVersionNegotiation())...)
}
