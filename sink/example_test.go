package sink_test

import (
	"context"
	"os"
	"time"

	"github.com/qnib/qwatch/message"
	"github.com/qnib/qwatch/sink"
)

func ExampleWriter() {
	at := time.Date(2026, 11, 23, 22, 26, 45, 850_000_000, time.UTC)
	w := &sink.Writer{Out: os.Stdout} // the zero value writes text lines to os.Stdout
	w.Write(context.Background(), []message.Message{
		{Time: at, Level: message.LevelInfo, Text: "Hello World", Container: message.Container{Name: "web-1"}},
		{Time: at, Level: message.LevelWarning, Kind: message.KindEvent, Text: "container die web-1 (nginx:1.27) exit code 137"},
	})
	// Output:
	// 2026-11-23T22:26:45.850Z info web-1 Hello World
	// 2026-11-23T22:26:45.850Z warning event container die web-1 (nginx:1.27) exit code 137
}
