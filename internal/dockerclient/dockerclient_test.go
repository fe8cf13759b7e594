package dockerclient_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/qnib/qwatch/internal/dockerclient"
	"github.com/qnib/qwatch/internal/dockertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// DOCKER_HOST picks the engine unless a host is given; the API version is agreed with the
// engine (the fake speaks 1.41, as Docker 20.10 does).
func TestNew(t *testing.T) {
	fake := dockertest.NewFake(t)
	for _, tt := range []struct {
		name, env, host, want string
	}{
		{"from the environment", fake.Host(), "", fake.Host()},
		{"the host given", "tcp://127.0.0.1:1", fake.Host(), fake.Host()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", tt.env)
			t.Setenv("DOCKER_API_VERSION", "")
			c, err := dockerclient.New(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := c.DaemonHost(); got != tt.want {
				t.Errorf("host %q, want %q", got, tt.want)
			}
			v, err := c.ServerVersion(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if v.APIVersion != "1.41" || c.ClientVersion() != "1.41" {
				t.Errorf("engine API %s, client %s; want both 1.41", v.APIVersion, c.ClientVersion())
			}
		})
	}
}
