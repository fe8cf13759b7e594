// Command echo prints its arguments, for a demo container in an image from scratch (CI has no
// registry to pull one from).
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() { fmt.Println(strings.Join(os.Args[1:], " ")) }
