// Command logger prints numbered lines for end-to-end tests of log collection. Each line is
//
//	<id> <stream> <seq> <padding>
//
// padded with letters to its size, which cycles through sizes from -min to -max bytes as
// Size(i) computes, so a test knows what every line must be. With -stream both, even lines
// go to stdout and odd ones to stderr.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
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
		name, w := "stdout", out
		if *stream == "stderr" || (*stream == "both" && i%2 == 1) {
			name, w = "stderr", errOut
		}
		fmt.Fprintln(w, Line(*id, name, i, Size(i, *minSize, *maxSize)))
		if *every > 0 {
			out.Flush()
			errOut.Flush()
			time.Sleep(*every)
		}
	}
	out.Flush()
	errOut.Flush()
}

// Size is the size of line i: it cycles through min..max, hitting both ends.
func Size(i, minSize, maxSize int) int {
	if maxSize <= minSize {
		return minSize
	}
	switch i % 10 {
	case 0:
		return minSize
	case 1:
		return maxSize
	}
	return minSize + (i*7919)%(maxSize-minSize+1)
}

// Line is line i as the program prints it, without the newline.
func Line(id, stream string, i, size int) string {
	head := fmt.Sprintf("%s %s %d ", id, stream, i)
	if len(head) >= size {
		return head[:len(head)-1]
	}
	return head + strings.Repeat(string(rune('a'+i%26)), size-len(head))
}
