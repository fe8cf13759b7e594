package gelf_test

import (
	"fmt"

	"github.com/qnib/qwatch/gelf"
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
