// Command logger prints numbered lines for end-to-end tests of log collection: line i is
// lines.Line(id, stream, i, lines.Size(i, min, max)), so a test knows what each must be.
// With -stream both, even lines go to stdout and odd ones to stderr.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/qnib/qwatch/internal/dockertest/lines"
)

func main() {
	id := flag.String("id", "x", "identifier that starts every line")
	n := flag.Int("n", 10, "number of lines")
	minSize := flag.Int("min", 10, "smallest line, in bytes without the newline")
	maxSize := flag.Int("max", 10, "largest line")
	stream := flag.String("stream", "stdout", "stdout, stderr or both")
	every := flag.Duration("every", 0, "pause between lines")
	flag.Parse()
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	errOut := bufio.NewWriterSize(os.Stderr, 1<<20)
	for i := range *n {
		name := *stream
		if name == "both" {
			name = lines.Stream(i)
		}
		w := out
		if name == "stderr" {
			w = errOut
		}
		fmt.Fprintln(w, lines.Line(*id, name, i, lines.Size(i, *minSize, *maxSize)))
		if *every > 0 {
			out.Flush()
			errOut.Flush()
			time.Sleep(*every)
		}
	}
	out.Flush()
	errOut.Flush()
}
