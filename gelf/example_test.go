package gelf_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/message"
)

// Listen binds before Run serves, as net.Listen does before Serve: a program (or a test) can
// listen on port 0 and read the address back.
func ExampleListen() {
	src, err := gelf.Listen(gelf.Config{UDPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan message.Message, 1)
	done := make(chan error)
	go func() { done <- src.Run(ctx, func(m message.Message) { got <- m }) }()

	conn, err := net.Dial("udp", src.UDPAddr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	conn.Write([]byte(`{"version":"1.1","host":"vm","short_message":"Hello World","level":3,
		"_container_name":"web-1","_request_id":"r-42"}`))
	m := <-got
	cancel()
	fmt.Println(m.Level, m.Container.Name, m.Text, m.Fields["request_id"], <-done)
	// Output:
	// err web-1 Hello World r-42 <nil>
}
