package inventory_test

import (
	"fmt"
	"time"

	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/message"
)

func Example() {
	inv := inventory.New()
	inv.Put(inventory.Container{ID: "1a7d", Name: "web-1", Image: "nginx:1.27", State: "running",
		Labels: map[string]string{"com.docker.compose.service": "web", "com.docker.compose.project": "shop"}})
	// As a processor, after the one that fills in Container.ID: hub.Use(inv.Count).
	inv.Count(&message.Message{Kind: message.KindLog, Time: time.Now(), Level: message.LevelErr, Text: "oops",
		Container: message.Container{ID: "1a7d"}, Fields: map[string]any{"stream": "stderr"}})

	changed := inv.Changed() // before the Snapshot, so that no change is missed
	for _, c := range inv.Snapshot().Containers {
		fmt.Println(c.Name, c.State, c.Service.Namespace+"/"+c.Service.Name, c.Logs.Lines["stderr"], c.Logs.LastText)
	}
	inv.Update("1a7d", func(c *inventory.Container) { c.State, c.ExitCode = "exited", 1 })
	<-changed
	c, _ := inv.Get("1a7d")
	fmt.Println(c.Name, c.State, c.ExitCode)
	// Output:
	// web-1 running shop/web 1 oops
	// web-1 exited 1
}
