package gelf_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/message"
)

func ExampleDecode() {
	m, err := gelf.Decode([]byte(`{"version":"1.1","host":"vm","short_message":"Hello World",
		"timestamp":1795472805.85,"level":3,"_container_name":"web-1","_request_id":"r-42"}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Time, m.Level, m.Container.Name, m.Text, m.Fields["request_id"])

	_, err = gelf.Decode([]byte(`{"short_message":"x","level":9}`))
	fmt.Println(err)
	// Output:
	// 2026-11-23 22:26:45.85 +0000 UTC err web-1 Hello World r-42
	// gelf: level "9" is not a syslog severity 0..7
}

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
	conn.Write([]byte(`{"version":"1.1","host":"vm","short_message":"Hello World","_container_name":"web-1"}`))
	m := <-got
	cancel()
	fmt.Println(m.Container.Name, m.Text, <-done)
	// Output:
	// web-1 Hello World <nil>
}
