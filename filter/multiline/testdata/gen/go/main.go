// Command gen panics, as its first argument says, so that each run prints one trace the way
// the Go runtime prints it.
package main

import (
	"errors"
	"log"
	"os"
	"sync"
)

type config struct{ port *int }

func serve(c *config) int { return *c.port }

func main() {
	switch os.Args[1] {
	case "panic":
		var wg sync.WaitGroup
		wg.Add(1)
		block := make(chan struct{})
		go func() { wg.Done(); <-block }()
		wg.Wait()
		panic(errors.New("cannot open database: connection refused"))
	case "nil":
		serve(&config{})
	case "logpanic":
		log.Panicf("handler %d: invalid state", 17)
	case "recovered":
		defer func() {
			if r := recover(); r != nil {
				panic(r)
			}
		}()
		panic("first failure")
	case "deadlock":
		ch := make(chan int)
		<-ch
	}
}
