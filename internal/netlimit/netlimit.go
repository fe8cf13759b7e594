// Package netlimit caps the connections a listener holds open at once, so that clients that
// connect and then trickle or idle cannot take every file descriptor of the process. Past the
// cap, new connections wait in the kernel's backlog until one closes.
package netlimit

import (
	"net"
	"sync"
)

// Listen wraps ln so that at most n of the connections it accepted are open at once.
func Listen(ln net.Listener, n int) net.Listener {
	return &listener{Listener: ln, slots: make(chan struct{}, n)}
}

type listener struct {
	net.Listener
	slots chan struct{}
}

func (l *listener) Accept() (net.Conn, error) {
	l.slots <- struct{}{}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &conn{Conn: c, release: func() { <-l.slots }}, nil
}

type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
