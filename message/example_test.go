package message_test

import (
	"fmt"
	"time"

	"github.com/qnib/qwatch/message"
)

func ExampleMessage_AppendJSON() {
	m := message.Message{
		ID:        "0otb9econc323poqark87t8ahm",
		Time:      time.Date(2026, 11, 23, 22, 26, 45, 850_000_000, time.UTC),
		Source:    "gelf",
		Host:      "vm",
		Level:     message.LevelInfo,
		Text:      "Hello World",
		Container: message.Container{Name: "web-1", ImageName: "hello:latest", Labels: map[string]string{"com.docker.compose.service": "web"}},
		Service:   message.Service{Name: "web"},
	}
	fmt.Println(string(m.AppendJSON(nil)))
	// Output:
	// {"@timestamp":"2026-11-23T22:26:45.850Z","message":"Hello World","log":{"level":"info"},"host":{"name":"vm"},"service":{"name":"web"},"qwatch":{"id":"0otb9econc323poqark87t8ahm","kind":"log","source":"gelf"},"container":{"name":"web-1","image":{"name":"hello:latest"},"labels":{"com.docker.compose.service":"web"}}}
}

func ExampleParseLevel() {
	for _, s := range []string{"3", "warn", "INFO"} {
		l, err := message.ParseLevel(s)
		fmt.Println(uint8(l), l, err)
	}
	// Output:
	// 3 err <nil>
	// 4 warning <nil>
	// 6 info <nil>
}
