package gelf_test

import (
	"fmt"
	"log/slog"
	"net"
	"testing"

	"github.com/qnib/qwatch"
	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/qwatchtest"
)

func TestSourceConformance(t *testing.T) {
	var src *gelf.Source
	qwatchtest.TestSource(t, qwatchtest.SourceKit{
		New: func(t *testing.T) qwatch.Source {
			var err error
			src, err = gelf.Listen(gelf.Config{UDPAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			return src
		},
		Feed: func(t *testing.T, n int) {
			conn, err := net.Dial("udp", src.UDPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for i := range n {
				if _, err := fmt.Fprintf(conn, `{"version":"1.1","host":"h","short_message":"line %d"}`, i); err != nil {
					t.Fatal(err)
				}
			}
		},
		NewInvalid: func(t *testing.T) error {
			taken, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			src, err := gelf.Listen(gelf.Config{UDPAddr: taken.LocalAddr().String(), Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				src.Close()
			}
			return err
		},
	})
}
